#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'for i in range(1, 4):\n    print(i * i)\n' > report.py
