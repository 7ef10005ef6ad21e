#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tr -s ' ' '\n' < words.txt | sort | uniq -c | sort -n | tail -n 3 | awk '{print $2}' > top3.txt
