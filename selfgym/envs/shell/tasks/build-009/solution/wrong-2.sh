#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'import sys\n\n\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n - 1):\n        a, b = b, a + b\n    return b\n\n\nprint(fib(int(sys.argv[1])))\n' > fib.py
