#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
(head -n 1 scores.csv; tail -n +2 scores.csv | sort -t, -k2,2r) > ranked.csv
