for f in bin/start.sh bin/lib/common.sh bin/tools/clean.sh; do [ "$(stat -c %a "$f")" = 750 ]; done
for f in bin/README bin/lib/data.txt bin/tools/notes.md; do [ "$(stat -c %a "$f")" = 640 ]; done
[ "$(stat -c %a bin bin/lib bin/tools | tr '\n' ' ')" = "755 755 755 " ]
