#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i -E 's/print (w.*)$/print(\1)/' legacy/tool.py
