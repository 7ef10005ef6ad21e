[ "$SELFGYM_ANSWER" = 4 ]
[ "$(pgrep -c -f '[c]runch\.sh')" = 4 ]
