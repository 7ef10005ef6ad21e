#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's/w\[0\].upper() + w\[1:\]/w[:1].upper() + w[1:].lower()/; s/if c in "aeiou"/if c.lower() in "aeiou"/' lib/text.py
