#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'change 12: tidy notes part 12' > /work/answer.txt
