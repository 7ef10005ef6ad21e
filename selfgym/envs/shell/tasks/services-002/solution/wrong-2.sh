#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
echo 'port=9090' > svc/app.conf && nohup python3 /work/svc/app.py > /dev/null 2>&1 &
