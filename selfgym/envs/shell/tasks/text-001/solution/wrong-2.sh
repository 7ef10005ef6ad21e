#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep ERROR app.log | wc -c > count.txt
