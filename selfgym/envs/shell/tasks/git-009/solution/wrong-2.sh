#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd lib && git checkout "$(git rev-list -n 1 HEAD -- utils.py)^" -- utils.py
