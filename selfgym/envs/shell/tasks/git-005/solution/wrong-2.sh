#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd proj && git merge fix
git checkout --ours config.txt && git add config.txt && git commit -q --no-edit
