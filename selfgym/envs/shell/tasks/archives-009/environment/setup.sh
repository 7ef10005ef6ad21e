mkdir -p p/2023 p/2024/summer
for f in p/2023/a.jpg p/2024/b.jpg p/2024/summer/c.jpg; do echo "$f" > "$f"; done
(cd p && zip -qr ../photos.zip .)
rm -r p
