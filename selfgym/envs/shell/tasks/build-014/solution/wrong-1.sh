#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
ls steps | sed 's/\.py$//' > order.txt
