#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk '{n[$9]++} END {for (c in n) print c, n[c]}' web.log | sort -k2,2nr > status.txt
