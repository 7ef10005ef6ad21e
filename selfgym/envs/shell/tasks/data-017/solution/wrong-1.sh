#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
jq 'map({user_id: .userId, full_name: .fullName})' api.json > users.json
