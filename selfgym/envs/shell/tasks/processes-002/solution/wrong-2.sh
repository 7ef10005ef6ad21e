#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
pgrep sleep | head -n 1 > pid.txt
