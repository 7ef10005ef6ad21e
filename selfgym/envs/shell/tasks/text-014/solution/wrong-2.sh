#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -A 4 '^\[database\]' app.conf | tail -n +2 > db.conf
