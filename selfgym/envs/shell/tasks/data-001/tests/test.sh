#!/bin/bash
# The verifier of a selfgym shell task: tests/check.sh, run with bash -e in /work, decides.
# Reward 1 when it exits 0, else 0.
# The task's answer: what the agent wrote to /work/answer.txt (at most 64 KiB; trailing newlines dropped).
export SELFGYM_ANSWER="$(head -c 65536 /work/answer.txt 2>/dev/null)"
cd /work || exit 1
bash -e /tests/check.sh
status=$?
if [ "$status" -eq 0 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt
