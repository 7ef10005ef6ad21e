#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
pgrep -x -f 'sleep 86400' > pid.txt
