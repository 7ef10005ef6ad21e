#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 51 > /work/answer.txt
