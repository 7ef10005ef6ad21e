#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
chmod 1777 drop
