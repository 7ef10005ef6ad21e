#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk -F, '$3 == "Paris"' people.csv | wc -l
printf '%s' 3 > /work/answer.txt
