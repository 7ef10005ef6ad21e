#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd lib && git checkout "$(git rev-list -n 1 HEAD -- utils.py)^" -- utils.py && git commit -qm "restore utils"
