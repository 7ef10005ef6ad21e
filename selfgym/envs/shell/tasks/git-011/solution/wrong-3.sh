#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'change 7' > /work/answer.txt
