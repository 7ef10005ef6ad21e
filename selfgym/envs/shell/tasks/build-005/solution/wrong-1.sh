#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/int(sys.argv\[1\]) + 1)$/int(sys.argv[1])):/' report.py
