#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -s -r 'sort_by(-.total) | .[:3][] | "\(.user) \(.total)"' purchases.jsonl > top.txt
