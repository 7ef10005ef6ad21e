#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
tar xjf backup.tar.bz2 && mkdir -p restored && cp etc/app/config.yml restored/
