#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -oE '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}' mail.txt | sort -u > emails.txt
