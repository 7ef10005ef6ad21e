#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
du -s data/*/ | sort -n | tail -n 1
printf '%s' gamma > /work/answer.txt
