#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed -i 's/db-old\.internal/db-new.internal/g' etc/*.conf
