[ -z "$(pgrep -f '[b]urn\.py 60$')" ]
for mb in 5 8 3; do [ -n "$(pgrep -f "[b]urn\\.py $mb\$")" ]; done
