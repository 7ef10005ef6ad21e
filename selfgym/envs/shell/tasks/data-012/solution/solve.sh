#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
jq -r 'select(((.email | type) == "string" and (.email | split("@") | length) == 2 and (.qty | type) == "number" and .qty >= 0 and .qty == (.qty | floor)) | not) | .id' records.jsonl > invalid.txt
