#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk '/^Traceback \(most recent call last\):$/ {t = 1; next} t && !/^ / {print; t = 0}' stack.log > errors.txt
