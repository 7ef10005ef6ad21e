#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' '4 6' > /work/answer.txt
