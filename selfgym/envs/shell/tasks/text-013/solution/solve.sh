#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
grep -vxFf old.txt new.txt > added.txt
