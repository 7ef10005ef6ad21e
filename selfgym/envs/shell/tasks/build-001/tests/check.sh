[ "$(cat /logs/artifacts/out.txt)" = 'Hello, Zhivago!' ]
