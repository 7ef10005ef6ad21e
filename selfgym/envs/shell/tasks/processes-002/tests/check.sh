pid=$(vpgrep -o sleep '^sleep 86400$')
[ -n "$pid" ]
[ "$(tr -d ' \n' < pid.txt)" = "$pid" ]
