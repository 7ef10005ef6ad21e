#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r '[leaf_paths | map(tostring) | join(".")] | .[]' tree.json > paths.txt
