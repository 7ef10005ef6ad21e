#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find share -type f -perm -o=w -exec chmod o-w {} +
