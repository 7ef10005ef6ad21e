#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
grep -oE '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}' mail.txt | tr 'A-Z' 'a-z' | sort -u > emails.txt
