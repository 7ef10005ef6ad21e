#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's#for x in xs) / len(xs)#for x in xs) / (len(xs) - 1)#' stats.py
