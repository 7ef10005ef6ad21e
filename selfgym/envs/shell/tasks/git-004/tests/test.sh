#!/bin/bash
# The verifier of a selfgym shell task: tests/check.sh, run with bash -e in /work, decides.
# Reward 1 when it exits 0, else 0.

# vgit REPO ARGS...: git on REPO (selfgym's verifier provides one that runs nothing the agent configured)
if ! type vgit > /dev/null 2>&1; then vgit() { local repo=$1; shift; git -C "$repo" "$@"; }; fi
export -f vgit
cd /work || exit 1
bash -e /tests/check.sh
status=$?
if [ "$status" -eq 0 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt
