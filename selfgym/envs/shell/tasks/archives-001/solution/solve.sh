#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir -p restore && tar xzf backup.tar.gz -C restore
