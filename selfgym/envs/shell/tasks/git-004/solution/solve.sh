#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd repo && git reset HEAD~1
