#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 12D1 > /work/answer.txt
