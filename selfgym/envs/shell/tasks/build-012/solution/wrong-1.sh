#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p dist && ./build.sh
