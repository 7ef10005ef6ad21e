#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p latest && ls -t inbox | head -n 3 | while read -r f; do cp "inbox/$f" latest/; done
