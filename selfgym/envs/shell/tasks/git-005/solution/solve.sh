#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd proj && git merge fix
git checkout --theirs config.txt && git add config.txt && git commit -q --no-edit
