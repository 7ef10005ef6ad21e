#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cd proj && git switch -q release/1.x && git cherry-pick "$(git log main --format=%H --grep='^fix overflow in parser$')"
