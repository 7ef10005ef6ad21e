#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mv app/app.log app/app.log.1 && pkill -USR1 -f app/logger.py
