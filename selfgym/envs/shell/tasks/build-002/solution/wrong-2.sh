#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/abs(a) + abs(b)/abs(a + b)/' calc/calc.py
