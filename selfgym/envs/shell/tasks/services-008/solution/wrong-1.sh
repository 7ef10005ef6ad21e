#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
pkill -KILL -f counter.py
