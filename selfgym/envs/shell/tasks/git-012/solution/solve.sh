#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd app && git reset -q --hard "$(git reflog --format='%H %gs' | awk '/commit: add payment module/ {print $1; exit}')"
