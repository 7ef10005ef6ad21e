#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find tmp -type f -empty -delete && find tmp -mindepth 1 -type d -empty -delete
