#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' single-big-file > /work/answer.txt
