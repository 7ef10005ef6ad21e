#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's#sum(xs) / len(xs)#sum(xs) / (len(xs) - 1)#' stats.py
