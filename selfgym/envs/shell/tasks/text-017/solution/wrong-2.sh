#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tr 'A-Z' 'a-z' < words.txt | tr -s ' ' '\n' | sort | uniq -c | sort -k1,1nr -k2,2 | head -n 5 | awk '{print $1, $2}' > top5.txt
