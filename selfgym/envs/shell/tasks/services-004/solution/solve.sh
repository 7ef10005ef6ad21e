#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
pgrep -f 'listen.py 7070' > answer.txt
