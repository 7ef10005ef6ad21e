#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
sed -i -E 's#([0-9]{2})/([0-9]{2})/([0-9]{4})#\3-\2-\1#g' dates.txt
