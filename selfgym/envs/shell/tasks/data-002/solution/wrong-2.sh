#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -R -s 'split("\n") | map(select(length > 0) | split(",") | {sku: .[0], name: .[1], price: (.[2] | tonumber?)}) | .[1:]' items.csv > items.json
