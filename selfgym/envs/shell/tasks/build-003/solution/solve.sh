#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's/    start = (number - 1) \* size + 1/    start = (number - 1) * size/' app/pages.py
