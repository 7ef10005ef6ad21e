#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
sed 's/userId/user_id/g; s/fullName/full_name/g' api.json > users.json
