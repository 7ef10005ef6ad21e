#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find private -type d -exec chmod 700 {} + && find private -type f -perm /111 -exec chmod 700 {} + && find private -type f ! -perm /111 -exec chmod 600 {} +
