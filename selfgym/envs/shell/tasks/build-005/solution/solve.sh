#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's/int(sys.argv\[1\]) + 1)$/int(sys.argv[1]) + 1):/' report.py
