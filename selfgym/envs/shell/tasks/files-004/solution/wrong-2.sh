#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
chmod 400 secret.key && chmod a+x deploy.sh
