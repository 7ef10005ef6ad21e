cat > users.json <<'JSON'
[
  {"name": "mallory", "active": false, "age": 41},
  {"name": "carol", "active": true, "age": 35},
  {"name": "alice", "active": true, "age": 30},
  {"name": "dave", "active": false, "age": 22},
  {"name": "bob", "active": true, "age": 27},
  {"name": "trent", "active": true, "age": 50}
]
JSON
