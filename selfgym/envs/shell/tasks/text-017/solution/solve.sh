#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
tr 'A-Z' 'a-z' < words.txt | grep -oE '[a-z]+' | sort | uniq -c | sort -k1,1nr -k2,2 | head -n 5 | awk '{print $1, $2}' > top5.txt
