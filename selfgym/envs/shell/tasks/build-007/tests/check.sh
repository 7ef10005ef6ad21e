[ "$(cat /logs/artifacts/out.txt)" = 'Mixed Case Words A B 5 0' ]
[ "$(cut -d' ' -f1 /logs/artifacts/tests.sha256)" = "$(cut -d' ' -f1 .tests.sha256)" ]
