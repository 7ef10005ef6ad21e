#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's#return sum((x - m) \*\* 2 for x in xs) / len(xs)#return sum((x - m) ** 2 for x in xs) / len(xs) ** 0.5#' stats.py
