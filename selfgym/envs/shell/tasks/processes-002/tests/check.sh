pid=$(pgrep -x -f 'sleep 86400')
[ -n "$pid" ]
[ "$(tr -d ' \n' < pid.txt)" = "$pid" ]
