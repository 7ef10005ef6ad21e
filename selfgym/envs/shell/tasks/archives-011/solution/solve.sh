#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cat big.part.aa big.part.ab big.part.ac | gunzip > big.txt
