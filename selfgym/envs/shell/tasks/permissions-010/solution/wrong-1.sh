#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
mkdir out && echo done > out/report.txt && chmod 640 out/report.txt
