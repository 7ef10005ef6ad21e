#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
pgrep -f 'sleep 86400' > pid.txt
