#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
echo 'alive ticks>=1' > svc/state.txt; pkill -f svc/daemon.py
