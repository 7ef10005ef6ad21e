#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sort -n latency.txt | awk '{a[NR] = $1} END {print a[(NR + 1) / 2]}'
printf '%s' 66 > /work/answer.txt
