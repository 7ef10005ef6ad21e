#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
nohup python3 -m http.server 8000 --bind 127.0.0.1 --directory /work/site > /work/http.log 2>&1 &
