seq 1 20000 | gzip > big.gz
split -b 20000 big.gz big.part.
sha256sum < <(seq 1 20000) | cut -d' ' -f1 > .expected
rm big.gz
