#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk -F, '$2 == "EU" {sum += $3} END {print sum}' sales.csv
printf '%s' 1501 > /work/answer.txt
