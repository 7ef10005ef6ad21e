#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk -F, 'NR == FNR { if (FNR > 1) n[$1]++; next } FNR == 1 { print "name,logins"; next } n[$1] { print $2 "," n[$1] }' logins.csv users.csv > report.csv
