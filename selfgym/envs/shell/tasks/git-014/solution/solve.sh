#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd tools && for t in $(git tag); do git cat-file -e "$t:install.sh" 2>/dev/null && echo "$t"; done | sort > /work/tags.txt
