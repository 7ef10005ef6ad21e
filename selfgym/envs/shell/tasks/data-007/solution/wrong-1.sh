#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r '.services | to_entries[] | select(.value.ports[0] > 8000) | .key' config.json | sort > busy.txt
