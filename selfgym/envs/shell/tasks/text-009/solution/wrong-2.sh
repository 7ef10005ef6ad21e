#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tr -d '\r' < legacy.txt > legacy.tmp && mv legacy.tmp legacy.txt
