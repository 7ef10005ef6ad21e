#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sort -n numbers.txt > sorted.txt
