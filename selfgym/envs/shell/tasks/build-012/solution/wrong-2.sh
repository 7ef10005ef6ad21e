#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p dist && cat src/b.js src/a.js src/main.js > dist/bundle.js
