#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd photos && md5sum * | awk 'seen[$1]++ {print $2}' | xargs rm --
