#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
kill "$(ps -eo pid,rss,args --sort=-rss | awk '/[b]urn.py/ {print $1; exit}')"
