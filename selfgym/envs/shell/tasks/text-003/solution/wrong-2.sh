#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
grep -rl db-old etc | xargs sed -i 's/db-old\.internal/db-new.internal/g'
