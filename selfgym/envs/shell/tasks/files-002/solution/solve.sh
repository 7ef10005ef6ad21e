#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd docs && for f in *.txt; do mv "$f" "${f%.txt}.md"; done
