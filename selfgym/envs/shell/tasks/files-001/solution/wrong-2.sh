#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p project/src/__init__.py
