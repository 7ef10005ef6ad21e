#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
pkill -f svc/hog.sh
