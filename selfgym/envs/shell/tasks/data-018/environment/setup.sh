echo '{"name": "x", "servers": [{"port": 80, "tags": ["a"]}, {"port": 8080, "weight": 2}], "limits": {"cpu": 1.5, "mem": {"max": 512}}, "on": true}' > tree.json
