#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
while read -r mode path; do chmod "$mode" "$path"; done < manifest.txt
