#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
chmod -R a+rX www
