#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r 'select((.email | test("@")) | not) | .id' records.jsonl > invalid.txt
