[ "$(ls latest | tr '\n' ' ')" = "b.txt d.txt f.txt " ]
for f in b.txt d.txt f.txt; do [ "$(stat -c %Y "latest/$f")" = "$(stat -c %Y "inbox/$f")" ]; cmp -s "latest/$f" "inbox/$f"; done
