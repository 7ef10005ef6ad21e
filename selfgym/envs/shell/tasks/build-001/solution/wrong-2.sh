#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/from greet import say_helo/from greet import say_hello/' hello/main.py
