mkdir -p share/docs share/img
for f in share/a.txt share/docs/b.txt share/docs/c.txt share/img/d.png share/e.sh; do echo x > "$f"; done
chmod 666 share/a.txt
chmod 646 share/docs/b.txt
chmod 644 share/docs/c.txt
chmod 777 share/e.sh
chmod 602 share/img/d.png
