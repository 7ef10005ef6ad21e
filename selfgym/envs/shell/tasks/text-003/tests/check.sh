[ "$(cat etc/app.conf)" = "$(printf 'host = db-new.internal\nport = 5432\nreplica = db-new.internal:5433')" ]
[ "$(cat etc/sub/cache.conf)" = backend=db-new.internal ]
[ "$(cat etc/readme.txt)" = "We moved away from db-old.internal in 2023." ]
