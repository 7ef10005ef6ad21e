#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
(echo region,Q1,Q2,Q3,Q4; awk -F, 'NR > 1 { s[$1 "," $2] += $3; r[$1] = 1 } END { for (x in r) { line = x; for (q = 1; q <= 4; q++) line = line "," (s[x ",Q" q] + 0); print line } }' sales.csv | sort) > pivot.csv
