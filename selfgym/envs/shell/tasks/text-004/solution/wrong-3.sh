#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 1195 > /work/answer.txt
