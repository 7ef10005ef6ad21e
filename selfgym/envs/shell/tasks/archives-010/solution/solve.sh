#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd release && sha256sum -c SHA256SUMS 2>/dev/null | grep -v ': OK$'
printf '%s' docs.pdf > /work/answer.txt
