#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq -s '.[1] * .[0]' a.json b.json > merged.json
