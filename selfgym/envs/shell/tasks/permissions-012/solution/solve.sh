#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir -p dst && cp -p src/app.conf dst/app.conf
