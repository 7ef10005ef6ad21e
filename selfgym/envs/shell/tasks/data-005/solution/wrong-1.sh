#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
(head -n 1 prices.csv; tail -n +2 prices.csv | sort -t, -k1,1 -k2,2 | awk -F, '!seen[$1]++') > latest.csv
