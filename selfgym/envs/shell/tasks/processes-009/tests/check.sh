[ -z "$(pgrep -f '[b]urn\.py 60$')" ]
for mb in 5 8 3; do [ -n "$(vpgrep -o python3 "^python3 /work/load/burn\\.py $mb\$")" ]; done
