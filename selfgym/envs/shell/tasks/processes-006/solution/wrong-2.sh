#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
rm out/spam.log; pkill -f sync-agent.sh
