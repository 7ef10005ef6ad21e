#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep 'Acme, Inc.' contacts.csv | awk -F, '{print $NF}' > acme.txt
