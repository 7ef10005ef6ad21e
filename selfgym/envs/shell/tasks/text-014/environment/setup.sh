cat > app.conf <<'INI'
[server]
host = 0.0.0.0
port = 80

[database]
host = db.local
port = 5432

user = app
[cache]
host = cache.local
INI
