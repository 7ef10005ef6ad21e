#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find etc -name '*.conf' -exec sed -i 's/db-old\.internal/db-new.internal/g' {} +
