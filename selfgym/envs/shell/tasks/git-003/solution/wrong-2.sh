#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' 'DEBUG = True' > /work/answer.txt
