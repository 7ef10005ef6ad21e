#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find music -type f -name '* *' | while IFS= read -r f; do d=$(dirname "$f"); b=$(basename "$f"); mv "$f" "$d/${b// /_}"; done
