#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
chmod 600 secret.key && chmod u+x deploy.sh
