#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk '{print $1}' access.log | sort | uniq -c | sort -rn | awk '{print $2}' > ips.txt
