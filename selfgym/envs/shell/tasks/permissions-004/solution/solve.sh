#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
chmod 2770 team
