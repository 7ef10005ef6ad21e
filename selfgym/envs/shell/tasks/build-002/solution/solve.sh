#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
printf 'def add(a, b):\n    """The sum of the integers a and b."""\n    return a + b\n' > calc/calc.py
