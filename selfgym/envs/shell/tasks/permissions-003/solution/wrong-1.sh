#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find share -type f -perm -o=w -exec chmod 644 {} +
