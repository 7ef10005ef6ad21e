#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find bin -type f -name '*.sh' -exec chmod 750 {} + && find bin -type f ! -name '*.sh' -exec chmod 640 {} +
