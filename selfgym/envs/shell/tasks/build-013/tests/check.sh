[ "$(cat /logs/artifacts/out.txt)" = '4.571428571428571 0.5 0.0' ]
