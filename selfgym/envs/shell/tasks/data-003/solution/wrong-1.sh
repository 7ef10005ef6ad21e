#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r 'group_by(.customer)[] | "\(.[0].customer),\(map(.amount) | add)"' orders.json > totals.csv
