[ ! -e parts/part4.gz ]
for i in 1 2 3 5; do gzip -t "parts/part$i.gz"; done
