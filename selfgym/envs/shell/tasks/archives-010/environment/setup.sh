mkdir release
for f in app.bin lib.so docs.pdf data.db; do head -c 2000 /dev/urandom > "release/$f"; done
(cd release && sha256sum app.bin lib.so docs.pdf data.db > SHA256SUMS)
printf 'X' | dd of=release/docs.pdf bs=1 seek=100 conv=notrunc 2>/dev/null
