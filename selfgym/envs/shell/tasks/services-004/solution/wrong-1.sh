#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
pgrep -f 'listen.py' | head -n 1 > answer.txt
