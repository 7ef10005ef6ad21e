mkdir src
echo 'var a = 1;' > src/a.js
echo 'var b = 2;' > src/b.js
echo 'var main = a + b;' > src/main.js
printf 'b.js\na.js\nmain.js\n' > src/ORDER
cat > build.sh <<'SH'
#!/bin/bash
set -e
cd /work
for f in $(cat src/ORDER); do
    cat "src/$f" >> dist/bundle.js
done
SH
chmod +x build.sh
