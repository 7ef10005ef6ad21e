#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk '{n[$9]++} END {for (c in n) print c, n[c]}' web.log | sort > status.txt
