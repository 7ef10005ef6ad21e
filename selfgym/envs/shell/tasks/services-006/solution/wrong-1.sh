#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
nohup /work/api/run.sh > /dev/null 2>&1 &
