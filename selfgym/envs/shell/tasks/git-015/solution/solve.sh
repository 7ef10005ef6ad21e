#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd big && git rev-list --objects --all | git cat-file --batch-check='%(objecttype) %(objectsize) %(rest)' | awk '$1 == "blob"' | sort -k2,2n | tail -n 1
printf '%s' assets/video.raw > /work/answer.txt
