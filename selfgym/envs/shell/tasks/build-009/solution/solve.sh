#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
printf 'import sys\n\n\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nprint(fib(int(sys.argv[1])))\n' > fib.py
