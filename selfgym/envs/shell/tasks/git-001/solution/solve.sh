#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd notes && git init -q && git add . && git commit -qm "initial notes"
