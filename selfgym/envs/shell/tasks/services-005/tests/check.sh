[ -n "$(vpgrep 'python3?(\.[0-9]+)?' '(^| |/)worker\.py$')" ]
sleep 0.5
size=$(stat -c %s worker.log)
sleep 0.6
[ "$(stat -c %s worker.log)" -gt "$size" ]
grep -q '^mode=batch$' worker.log
! grep -q '^mode=none$' worker.log || exit 1
grep -q '^heartbeat$' worker.log
