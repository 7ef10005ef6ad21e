#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -p dst && cp src/app.conf dst/app.conf
