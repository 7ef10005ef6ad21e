#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
kill "$(pgrep -f burn.py | head -n 1)"
