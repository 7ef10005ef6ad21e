[ "$(cat /logs/artifacts/out.txt)" = '2 -15 -8 8' ]
