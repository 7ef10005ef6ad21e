#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p restore && tar xzf backup.tar.gz
