#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
mkdir -p restored && tar xjOf backup.tar.bz2 etc/app/config.yml > restored/config.yml
