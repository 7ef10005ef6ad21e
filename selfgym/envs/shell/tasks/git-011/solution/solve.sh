#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd calc && git bisect start HEAD good > /dev/null && git bisect run python3 test.py > /dev/null 2>&1; git log -1 --format=%s refs/bisect/bad
printf '%s' 'change 7: tidy notes part 7' > /work/answer.txt
