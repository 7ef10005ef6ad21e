#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
awk -F, '$2 ~ /Acme/ {print $3}' contacts.csv > acme.txt
