#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i -E 's/print w\[::-1\]/print(w)/; s/print "%d words" % len\(words\)/print("%d words" % len(words))/' legacy/tool.py
