#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -oE '[a-z0-9._]+@[a-z0-9.]+' mail.txt | sort -u > emails.txt
