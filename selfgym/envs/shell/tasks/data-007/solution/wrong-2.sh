#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -r '.services | keys[]' config.json > busy.txt
