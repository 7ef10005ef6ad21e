#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find links -maxdepth 1 -xtype l -delete
