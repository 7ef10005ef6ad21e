#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
MODE=batch nohup python3 /work/worker.py > /work/worker.log &
