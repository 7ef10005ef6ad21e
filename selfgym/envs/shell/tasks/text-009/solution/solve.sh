#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
iconv -f ISO-8859-1 -t UTF-8 legacy.txt | tr -d '\r' > legacy.tmp && mv legacy.tmp legacy.txt
