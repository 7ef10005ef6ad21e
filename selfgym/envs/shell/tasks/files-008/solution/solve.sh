#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find tree -type f | wc -l
printf '%s' 6 > /work/answer.txt
