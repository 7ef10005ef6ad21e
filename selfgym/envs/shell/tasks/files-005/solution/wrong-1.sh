#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
ln -s /work/releases/$(ls releases | sort | tail -n 1) current
