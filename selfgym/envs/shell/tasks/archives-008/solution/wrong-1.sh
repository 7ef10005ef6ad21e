#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p restored && tar xjf backup.tar.bz2 -C restored etc/app
