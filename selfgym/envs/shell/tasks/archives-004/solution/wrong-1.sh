#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '%s' quartz-harbor > /work/answer.txt
