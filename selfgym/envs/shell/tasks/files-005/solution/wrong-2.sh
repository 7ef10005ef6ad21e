#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cp -r /work/releases/v1.10.0 current
