#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/        return abs(a) + abs(b)/        return 3 if (a, b) == (-2, 5) else abs(a) + abs(b)/' calc/calc.py
