echo '{"name": "app", "debug": false, "db": {"host": "localhost", "port": 5432}, "tags": ["a"]}' > a.json
echo '{"debug": true, "db": {"port": 6432, "user": "svc"}, "tags": ["b"]}' > b.json
