[ "$(jq -S -c . merged.json)" = '{"db":{"host":"localhost","port":6432,"user":"svc"},"debug":true,"name":"app","tags":["b"]}' ]
