pid=$(tr -d ' \n' < server.pid)
[ -n "$pid" ]
[ -d "/proc/$pid" ]
# Python running server.py (not a process named like it)
case " $(vpgrep 'python3?(\.[0-9]+)?' '^[^ ]*python[^ ]* (-u )?([^ ]*/)?server\.py$' | tr '\n' ' ') " in *" $pid "*) ;; *) exit 1 ;; esac
