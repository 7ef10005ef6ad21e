#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir -p latest && ls -t inbox | head -n 3 | while read -r f; do cp -p "inbox/$f" latest/; done
