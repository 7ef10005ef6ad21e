#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir -m 750 out && echo done > out/report.txt && chmod 640 out/report.txt
