#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
jq 'map({user_id: .userId, full_name: .fullName, is_active: .isActive})' api.json > users.json
