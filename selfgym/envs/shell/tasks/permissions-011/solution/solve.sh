#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
find www -type d -exec chmod 755 {} + && find www -type f -exec chmod 644 {} + && find www -type f -name '*.cgi' -exec chmod 755 {} +
