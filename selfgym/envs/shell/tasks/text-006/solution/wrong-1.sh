#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r '.[] | .name' users.json | sort > active.txt
