#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd lib && git checkout "$(git rev-list --reverse HEAD -- utils.py | head -n 1)" -- utils.py && git commit -qm "restore utils"
