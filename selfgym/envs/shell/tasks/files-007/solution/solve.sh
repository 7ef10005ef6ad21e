#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd inbox && for f in *.*; do ext=$(echo "${f##*.}" | tr 'A-Z' 'a-z'); mkdir -p "$ext"; mv "$f" "$ext/"; done
