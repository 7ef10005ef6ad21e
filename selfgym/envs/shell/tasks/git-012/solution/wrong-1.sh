#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cd app && echo pay > payment.py && git add . && git commit -qm "add payment module"
