#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk '{print $1, $2}' manifest.txt | while read -r mode path; do chmod "$mode" "$path"; done
