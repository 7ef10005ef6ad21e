for f in data/big1.bin data/a/big2.log "data/b/big file.csv"; do [ ! -e "$f" ]; done
for f in data/a/edge.dat data/small.txt data/b/tiny; do [ -f "$f" ]; done
[ -d data/a ] && [ -d data/b ]
