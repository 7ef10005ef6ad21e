#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd tools && git tag --contains "$(git log --format=%H --diff-filter=A -- install.sh | tail -n 1)" > /work/tags.txt
