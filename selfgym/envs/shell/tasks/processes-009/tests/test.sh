#!/bin/bash
# The verifier of a selfgym shell task: tests/check.sh, run with bash -e in /work, decides.
# Reward 1 when it exits 0, else 0.

# vpgrep [-o] PROGRAM CMDLINE: pids of processes whose command line matches CMDLINE (selfgym's verifier provides one
# that also checks which program runs and, with -o, that the task's setup started them)
if ! type vpgrep > /dev/null 2>&1; then vpgrep() { [ "$1" != -o ] || shift; pgrep -f "$2"; }; fi
export -f vpgrep
cd /work || exit 1
bash -e /tests/check.sh
status=$?
if [ "$status" -eq 0 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt
