#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd service && git log -S 'DEBUG = True' --format=%s -- settings.py
printf '%s' 'tune logging for staging' > /work/answer.txt
