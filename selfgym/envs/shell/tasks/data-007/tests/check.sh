[ "$(cat busy.txt)" = "$(printf 'admin\napi\nmetrics')" ]
