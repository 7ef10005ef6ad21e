mkdir src
echo 'port = 80' > src/app.conf
chmod 604 src/app.conf
touch -d '2021-06-01 12:34:56' src/app.conf
