mkdir -p app/conf app/bin
for f in app/conf/main.cfg "app/conf/local copy.cfg" app/bin/serve app/README; do echo x > "$f"; chmod 666 "$f"; done
printf '0640 app/conf/main.cfg\n600 app/conf/local copy.cfg\n0755 app/bin/serve\n444 app/README\n' > manifest.txt
