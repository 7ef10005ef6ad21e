#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tr '\t' ',' < table.tsv > table.csv
