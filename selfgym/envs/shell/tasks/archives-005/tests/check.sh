[ ! -e parts/part4.gz ]
for i in 1 2 3 5; do gzip -t "parts/part$i.gz"; cmp -s <(zcat "parts/part$i.gz") <(seq "$i" 5000); done
[ "$(ls parts | tr '\n' ' ')" = "part1.gz part2.gz part3.gz part5.gz " ]
