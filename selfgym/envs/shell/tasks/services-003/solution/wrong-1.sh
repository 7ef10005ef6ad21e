#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
echo 'color=blue' >> kv/data.txt
