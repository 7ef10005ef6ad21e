#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
nohup python3 -m http.server 8080 --bind 127.0.0.1 --directory /work/site > /work/http.log 2>&1 &
