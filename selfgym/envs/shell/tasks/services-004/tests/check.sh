pid=$(vpgrep -o python3 '^python3 /work/srv/listen\.py 7070$')
[ -n "$pid" ]
[ "$SELFGYM_ANSWER" = "$pid" ]
