#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
printf 'while :; do python3 /work/srv.py 8088; sleep 0.5; done\n' > watchdog.sh && nohup bash watchdog.sh > /dev/null 2>&1 &
