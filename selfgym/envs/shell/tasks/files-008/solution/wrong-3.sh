#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 8 > /work/answer.txt
