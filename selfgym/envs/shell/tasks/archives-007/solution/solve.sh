#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
tar czf src.tar.gz --exclude=project/node_modules --exclude='*.log' project
