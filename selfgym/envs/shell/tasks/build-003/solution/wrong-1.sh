#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/    start = (number - 1) \* size + 1/    start = number * size/' app/pages.py
