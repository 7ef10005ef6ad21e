#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
ps -ef | grep -v grep | grep bash
pkill -f sync-agent.sh
: > out/spam.log
