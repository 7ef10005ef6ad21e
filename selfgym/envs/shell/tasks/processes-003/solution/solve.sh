#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
ps -ef
pkill -f svc/run-all.sh; pkill -f svc/worker.sh
