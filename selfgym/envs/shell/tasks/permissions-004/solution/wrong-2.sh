#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
chmod 2775 team
