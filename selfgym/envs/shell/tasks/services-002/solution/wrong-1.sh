#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
echo 'port=9090' > svc/app.conf
