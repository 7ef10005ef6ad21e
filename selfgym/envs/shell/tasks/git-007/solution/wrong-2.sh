#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd vault && FILTER_BRANCH_SQUELCH_WARNING=1 git filter-branch -f --index-filter 'git rm -q --cached --ignore-unmatch credentials.env' HEAD && git for-each-ref --format='%(refname)' refs/original | xargs -r -n 1 git update-ref -d
