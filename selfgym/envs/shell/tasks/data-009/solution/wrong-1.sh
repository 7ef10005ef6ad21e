#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk -F, 'NR > 1 { s[$1 "," $2] += $3 } END { print "region,Q1,Q2,Q3,Q4"; for (k in s) print k "," s[k] }' sales.csv > pivot.csv
