#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd repo && git revert --no-edit HEAD
