#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
chmod 750 bin/*.sh && chmod 640 bin/README
