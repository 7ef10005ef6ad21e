#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd app && git switch -c feature/login v1.0
