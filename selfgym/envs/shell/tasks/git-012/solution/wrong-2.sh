#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd app && git cherry-pick "$(git reflog --format='%H %gs' | awk '/commit: add payment module/ {print $1; exit}')" && git commit --amend -qm "add payment" 
