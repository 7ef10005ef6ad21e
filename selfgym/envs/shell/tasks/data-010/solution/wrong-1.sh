#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sort -t, -k2,2nr scores.csv > ranked.csv
