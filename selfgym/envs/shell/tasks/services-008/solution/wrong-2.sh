#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
echo 'served 3' > final.txt
