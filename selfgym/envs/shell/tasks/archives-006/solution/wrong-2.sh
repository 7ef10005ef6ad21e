#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
unzip -j logs.zip -d errors
