mkdir -p src/app/models src/app/views src/lib/util src/tests
for d in src src/app src/app/models src/app/views src/lib/util src/tests; do echo x > "$d/file.py"; done
