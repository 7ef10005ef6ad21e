mkdir -p data/a data/b
head -c 2000 /dev/zero > data/big1.bin
head -c 5000 /dev/zero > data/a/big2.log
head -c 1500 /dev/zero > "data/b/big file.csv"
head -c 1024 /dev/zero > data/a/edge.dat
head -c 100 /dev/zero > data/small.txt
echo tiny > data/b/tiny
