[ -s app/app.log.1 ]
grep -qx 'line 1' app/app.log.1
sleep 0.5
size=$(stat -c %s app/app.log)
sleep 0.5
[ "$(stat -c %s app/app.log)" -gt "$size" ]
! grep -qx 'line 1' app/app.log || exit 1
[ -n "$(vpgrep -o python3 '^python3 /work/app/logger\.py$')" ]
