#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/w\[0\].upper() + w\[1:\]/w.capitalize()/' lib/text.py
