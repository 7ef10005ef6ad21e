#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find data -type f -size +1024c -delete
