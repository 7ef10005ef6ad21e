sleep 1
[ -z "$(pgrep -f '[w]orker\.sh')" ]
[ -n "$(pgrep -f '[m]etrics\.sh')" ]
