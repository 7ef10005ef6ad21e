#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
jq -s -r 'group_by(.user) | map({user: .[0].user, total: (map(.total) | add)}) | sort_by(-.total) | .[:3][] | "\(.user) \(.total)"' purchases.jsonl > top.txt
