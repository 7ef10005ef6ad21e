#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/lines\[0\].split()\[0\]/(lines[0].split() or [""])[0]/; s/^print(total, "total")/print(total)/' wc.py
