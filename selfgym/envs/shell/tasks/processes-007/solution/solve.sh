#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
pgrep -c -f 'jobs/crunch\.sh'
printf '%s' 4 > /work/answer.txt
