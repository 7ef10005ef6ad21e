#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'worker-2.log worker-1.log' > /work/answer.txt
