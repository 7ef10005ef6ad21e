#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir -m 750 out && echo done > out/report.txt
