#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'change 6: tidy notes part 6' > /work/answer.txt
