#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
iconv -f ISO-8859-1 -t UTF-8 legacy.txt > legacy.tmp && mv legacy.tmp legacy.txt
