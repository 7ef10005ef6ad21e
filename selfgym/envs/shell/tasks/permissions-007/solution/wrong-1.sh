#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
while read -r mode path; do chmod "$mode" $path; done < manifest.txt
