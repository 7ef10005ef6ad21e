#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk -F, 'NR == FNR { if (FNR > 1) n[$1]++; next } FNR == 1 { print "name,logins"; next } { print $2 "," (n[$1] + 0) }' logins.csv users.csv > report.csv
