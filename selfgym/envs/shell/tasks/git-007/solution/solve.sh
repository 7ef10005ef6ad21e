#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd vault && export FILTER_BRANCH_SQUELCH_WARNING=1 && git filter-branch -f --index-filter 'git rm -q --cached --ignore-unmatch credentials.env' -- --all
git for-each-ref --format='%(refname)' refs/original | xargs -r -n 1 git update-ref -d
