[ "$(cat /logs/artifacts/out.txt)" = "$(printf "[('name', 'a'), ('retries', 2), ('timeout', 30)]\n[('timeout', 5)]")" ]
