[ "$(cat /logs/artifacts/out.txt)" = "$(printf '600 0\n600 0')" ]
