#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
echo 'color=blue' >> kv/data.txt && pkill -HUP -f kv/server.py
