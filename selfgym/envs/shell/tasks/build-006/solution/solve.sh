#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
printf 'import sys\n\nfor i in range(1, int(sys.argv[1]) + 1):\n    print("FizzBuzz" if i %% 15 == 0 else "Fizz" if i %% 3 == 0 else "Buzz" if i %% 5 == 0 else i)\n' > fizzbuzz.py
