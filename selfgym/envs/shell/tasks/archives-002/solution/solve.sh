#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
tar czf site.tar.gz site
