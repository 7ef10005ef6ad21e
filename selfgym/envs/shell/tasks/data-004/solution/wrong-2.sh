#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk -F, 'NR == FNR { n[$1]++; next } FNR == 1 { print "name,logins"; next } { print $2 "," (n[$1] + 0) }' logins.csv users.csv | sort > report.csv
