#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/return items\[start:start + size\]/return items[start - 1:start + size]/' app/pages.py
