#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
grep -vE '^[[:space:]]*(#|$)' settings.ini > clean.ini
