#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk '{print $9}' web.log | sort | uniq -c > status.txt
