#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd docs && for f in *; do mv "$f" "${f%.*}.md"; done
