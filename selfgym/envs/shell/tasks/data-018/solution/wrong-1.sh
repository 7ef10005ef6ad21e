#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r 'paths(scalars) | map(tostring) | join(".")' tree.json | sort > paths.txt
