#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
kill "$(ps -eo pid,rss,args --sort=rss | awk '/[b]urn.py/ {print $1; exit}')"
