#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
jq -r 'paths(type == "number") | map(tostring) | join(".")' tree.json | sort > paths.txt
