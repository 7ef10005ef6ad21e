#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
echo 'port=9090' > svc/app.conf && pkill -f svc/app.py; sleep 0.5; nohup python3 /work/svc/app.py > /dev/null 2>&1 &
