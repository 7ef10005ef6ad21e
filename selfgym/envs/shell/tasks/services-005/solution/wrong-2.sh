#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
nohup python3 /work/worker.py > /work/worker.log 2>&1 &
