pid=$(tr -d ' \n' < server.pid)
[ -n "$pid" ]
[ -d "/proc/$pid" ]
tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'server\.py'
