#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk 'NR > 1 && $4 == "0A" {split($2, a, ":"); print a[2]}' /proc/net/tcp
printf '%d\n' 0x12D1
printf '%s' 4817 > /work/answer.txt
