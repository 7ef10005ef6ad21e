#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
jq -r '.[] | select(.active) | .name' users.json | sort > active.txt
