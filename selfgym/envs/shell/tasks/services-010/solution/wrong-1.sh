#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
nohup python3 /work/srv.py 8088 > /dev/null 2>&1 &
