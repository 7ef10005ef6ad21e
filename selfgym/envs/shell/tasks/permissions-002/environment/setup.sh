mkdir -p bin/lib bin/tools
for f in bin/start.sh bin/lib/common.sh bin/tools/clean.sh bin/README bin/lib/data.txt bin/tools/notes.md; do echo x > "$f"; done
chmod 666 bin/start.sh bin/README
chmod 600 bin/lib/common.sh bin/tools/notes.md
chmod 755 bin/lib/data.txt bin/tools/clean.sh
