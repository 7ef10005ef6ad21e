#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd inbox && for f in *.*; do ext=${f##*.}; mkdir -p "$ext"; mv "$f" "$ext/"; done
