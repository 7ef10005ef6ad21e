#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
awk '/^\[/ {s = ($0 == "[database]"); next} s && NF' app.conf > db.conf
