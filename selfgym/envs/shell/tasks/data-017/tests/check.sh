[ "$(jq -c . users.json)" = '[{"user_id":1,"full_name":"Ada L","is_active":true},{"user_id":2,"full_name":"Alan T","is_active":false}]' ]
