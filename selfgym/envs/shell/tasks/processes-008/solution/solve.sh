#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
pkill -USR1 -f svc/daemon.py; sleep 0.5
