#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sort -rn numbers.txt > sorted.txt
