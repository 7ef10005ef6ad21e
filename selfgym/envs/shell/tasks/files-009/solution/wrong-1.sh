#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cp -r src skeleton
