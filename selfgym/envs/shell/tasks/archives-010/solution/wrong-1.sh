#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' SHA256SUMS > /work/answer.txt
