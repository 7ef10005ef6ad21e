#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -E '^[A-Z][A-Za-z]+: ' stack.log > errors.txt
