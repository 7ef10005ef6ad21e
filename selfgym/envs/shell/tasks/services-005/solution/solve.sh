#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
MODE=batch nohup python3 /work/worker.py > /work/worker.log 2>&1 &
