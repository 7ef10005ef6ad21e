#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
tr -s ' ' '\n' < words.txt | grep -v '^$' | sort | uniq -c | sort -rn | head -n 3 | awk '{print $2}' > top3.txt
