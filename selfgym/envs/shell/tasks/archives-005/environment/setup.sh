mkdir parts
for i in 1 2 3 4 5; do seq "$i" 5000 | gzip > "parts/part$i.gz"; done
head -c 300 parts/part4.gz > parts/broken && mv parts/broken parts/part4.gz
