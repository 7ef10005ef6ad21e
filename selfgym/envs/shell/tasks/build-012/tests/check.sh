[ "$(cat /logs/artifacts/out.txt)" = "$(printf 'var extra = 3;\nvar a = 1;')" ]
