#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'import sys\n\n\ndef fib(n):\n    phi = (1 + 5 ** 0.5) / 2\n    return round(phi ** n / 5 ** 0.5)\n\n\nprint(fib(int(sys.argv[1])))\n' > fib.py
