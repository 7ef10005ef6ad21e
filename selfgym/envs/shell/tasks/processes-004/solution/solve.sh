#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
nohup python3 server.py > server.log 2>&1 & echo $! > server.pid
