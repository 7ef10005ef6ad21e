#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's/say_helo/say_hello/g' hello/main.py
