mkdir -p tree/a/b tree/c
for f in tree/a/one tree/a/b/two tree/c/three tree/four; do echo x > "$f"; chmod 755 "$f"; done
chmod 2755 tree/c/three
chmod 4711 tree/a/b/two
