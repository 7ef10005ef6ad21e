[ "$(cat db.conf)" = "$(printf 'host = db.local\nport = 5432\nuser = app')" ]
