#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'while :; do python3 /work/srv.py 8088; sleep 5; done\n' > watchdog.sh && nohup bash watchdog.sh > /dev/null 2>&1 &
