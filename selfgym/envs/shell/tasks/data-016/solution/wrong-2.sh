#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed 's/\t/","/g; s/^/"/; s/$/"/' table.tsv > table.csv
