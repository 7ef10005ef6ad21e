#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd web && echo '*.log' >> .gitignore && git rm -q old.log && git add .gitignore && git commit -qm 'ignore log files'
