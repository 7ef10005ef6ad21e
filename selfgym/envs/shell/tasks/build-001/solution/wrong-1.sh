#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'print("Hello, World!")\n' > hello/main.py
