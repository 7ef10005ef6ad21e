#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk '{print $1}' access.log | sort | uniq -c | sort -n | awk '{print $2}' > ips.txt
