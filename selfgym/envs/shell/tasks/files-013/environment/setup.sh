mkdir -p data/alpha/x data/beta data/gamma/deep/er
head -c 300000 /dev/zero > data/alpha/x/one
head -c 200000 /dev/zero > data/beta/big
for i in 1 2 3; do head -c 150000 /dev/zero > "data/gamma/deep/er/part$i"; done
head -c 500000 /dev/zero > data/single-big-file
