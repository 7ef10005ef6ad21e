#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find private -type d -exec chmod 700 {} + && find private -type f -perm -u=x -exec chmod 700 {} + && find private -type f ! -perm -u=x -exec chmod 600 {} +
