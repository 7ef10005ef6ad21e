[ "$(ls latest | tr '\n' ' ')" = "b.txt d.txt f.txt " ]
for spec in b.txt:2024-03-05 d.txt:2024-03-01 f.txt:2024-03-09; do
  f=${spec%%:*}
  [ "$(stat -c %Y "latest/$f")" = "$(date -d "${spec#*:}" +%s)" ]
  [ "$(cat "latest/$f")" = "$f" ]
done
