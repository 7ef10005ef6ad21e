#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -oE '[A-Za-z]+' words.txt | sort | uniq -c | sort -k1,1nr -k2,2 | head -n 5 | awk '{print $1, $2}' > top5.txt
