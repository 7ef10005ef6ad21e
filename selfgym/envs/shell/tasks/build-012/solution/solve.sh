#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i 's#^cd /work$#cd /work\nmkdir -p dist\n: > dist/bundle.js#' build.sh && ./build.sh
