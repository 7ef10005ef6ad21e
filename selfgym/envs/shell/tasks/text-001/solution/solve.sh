#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
grep -c ERROR app.log > count.txt
