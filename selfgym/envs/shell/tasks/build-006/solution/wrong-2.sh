#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf 'import sys\n\nfor i in range(1, int(sys.argv[1]) + 1):\n    print("Fizz" if i %% 3 == 0 else "Buzz" if i %% 5 == 0 else "FizzBuzz" if i %% 15 == 0 else i)\n' > fizzbuzz.py
