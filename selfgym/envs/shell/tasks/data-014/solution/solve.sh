#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk -F, -v OFS=, 'NR > 1 { split($2, d, "/"); $2 = d[3] "-" d[1] "-" d[2] } 1' log.csv > log.tmp && mv log.tmp log.csv
