#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'add log level' > /work/answer.txt
