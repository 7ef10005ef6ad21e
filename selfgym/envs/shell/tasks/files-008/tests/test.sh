#!/bin/bash
# The verifier of a selfgym shell task: tests/check.sh, run with bash -e in /work, decides.
# Reward 1 when it exits 0, else 0.

# as_agent CMD ARGS...: run CMD as the agent (selfgym's verifier provides it; elsewhere CMD runs as is)
if ! type as_agent > /dev/null 2>&1; then as_agent() { "$@"; }; fi
export -f as_agent

# The task's answer: what the agent wrote to /work/answer.txt (at most 64 KiB; trailing newlines dropped), read with
# the agent's rights (a link it planted leads nowhere the agent could not read itself)
export SELFGYM_ANSWER="$(as_agent head -c 65536 /work/answer.txt 2>/dev/null)"
cd /work || exit 1
bash -e /tests/check.sh
status=$?
if [ "$status" -eq 0 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt
