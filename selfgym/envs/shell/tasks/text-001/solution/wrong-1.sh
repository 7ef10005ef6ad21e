#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -c error app.log > count.txt
