sleep 0.3
[ -z "$(pgrep -f '[c]ounter\.py')" ]
[ "$(cat final.txt)" = 'served 3' ]
