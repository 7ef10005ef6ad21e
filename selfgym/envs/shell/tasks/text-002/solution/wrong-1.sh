#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk '{print $1}' access.log | sort -u > ips.txt
