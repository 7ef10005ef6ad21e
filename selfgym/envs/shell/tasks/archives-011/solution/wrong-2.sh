#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
for p in big.part.*; do gunzip < "$p"; done > big.txt 2>/dev/null
