#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/first = lines\[0\].split()\[0\]/first = lines[0]/' wc.py && sed -i 's/^    print(words, name)/    print(words, name) if words else None/' wc.py
