#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
ls -t logs | head -n 1
printf '%s' worker-2.log > /work/answer.txt
