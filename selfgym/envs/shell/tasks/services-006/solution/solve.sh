#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cat api/api.log 2>/dev/null; awk 'NR > 1 {print $2}' /proc/net/tcp | head
pkill -f old-preview.py; sleep 0.5; nohup /work/api/run.sh > /dev/null 2>&1 &
