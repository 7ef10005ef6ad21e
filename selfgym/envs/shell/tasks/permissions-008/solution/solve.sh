#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find tree -perm -4000 -exec chmod u-s {} \; -print
printf '%s' tree/a/b/two > /work/answer.txt
