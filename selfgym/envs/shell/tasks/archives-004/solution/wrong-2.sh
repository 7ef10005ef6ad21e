#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'quartz-harbor-17 nothing here' > /work/answer.txt
