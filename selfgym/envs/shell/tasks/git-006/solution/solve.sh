#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd web && echo '*.log' >> .gitignore && git rm -q --cached old.log && git add .gitignore && git commit -qm "ignore log files"
