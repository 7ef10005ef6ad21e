#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
chmod u+x run.sh
