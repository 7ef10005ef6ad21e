#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i '/first = lines\[0\]/d' wc.py
