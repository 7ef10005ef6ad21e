#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -n '/^\[database\]/,/^$/p' app.conf | grep -v '^\[' | grep -v '^$' > db.conf
