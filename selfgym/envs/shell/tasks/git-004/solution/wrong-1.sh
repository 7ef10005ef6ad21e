#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd repo && git reset --hard HEAD~1
