#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
tac list.txt > reversed.txt
