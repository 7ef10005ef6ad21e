#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
chmod 600 secret.key && chmod a+x deploy.sh
