#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd src && find . -type d -exec mkdir -p ../skeleton/{} \;
