#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cat big.part.* | gunzip | head -n 10000 > big.txt
