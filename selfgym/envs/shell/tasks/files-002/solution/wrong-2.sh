#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd docs && for f in *.txt; do cp "$f" "${f%.txt}.md"; done
