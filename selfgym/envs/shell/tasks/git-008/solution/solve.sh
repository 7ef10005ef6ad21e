#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd shop && git blame -L '/TAX_RATE/,+1' config.py
printf '%s' 'Tom Berg' > /work/answer.txt
