#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -v '^#' settings.ini > clean.ini
