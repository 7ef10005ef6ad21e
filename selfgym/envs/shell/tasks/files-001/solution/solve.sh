#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir -p project/src && touch project/src/__init__.py
