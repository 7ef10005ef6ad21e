#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r '.[] | select(.active) | .name' users.json > active.txt
