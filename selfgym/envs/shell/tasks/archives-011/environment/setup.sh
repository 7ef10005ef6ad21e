seq 1 20000 | gzip > big.gz
split -b 20000 big.gz big.part.
rm big.gz
