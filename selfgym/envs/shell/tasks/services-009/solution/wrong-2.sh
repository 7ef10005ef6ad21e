#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cp app/app.log app/app.log.1 && pkill -USR1 -f app/logger.py
