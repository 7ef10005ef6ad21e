#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r 'select(.qty < 0 or (.email | contains("@") | not)) | .id' records.jsonl > invalid.txt
