#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd team && git log --all --author='^Priya Nair <' --format=%h | wc -l
printf '%s' 4 > /work/answer.txt
