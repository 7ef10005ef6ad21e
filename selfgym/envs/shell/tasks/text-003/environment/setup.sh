mkdir -p etc/sub
printf 'host = db-old.internal\nport = 5432\nreplica = db-old.internal:5433\n' > etc/app.conf
printf 'backend=db-old.internal\n' > etc/sub/cache.conf
printf 'We moved away from db-old.internal in 2023.\n' > etc/readme.txt
