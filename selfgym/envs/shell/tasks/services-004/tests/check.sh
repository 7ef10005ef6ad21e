pid=$(pgrep -f '[l]isten\.py 7070')
[ -n "$pid" ]
[ "$SELFGYM_ANSWER" = "$pid" ]
