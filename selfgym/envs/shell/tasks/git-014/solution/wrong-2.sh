#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd tools && git tag | tail -n 3 > /work/tags.txt
