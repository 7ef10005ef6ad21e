#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -A 3 '^Traceback' stack.log | tail -n 1 > errors.txt
