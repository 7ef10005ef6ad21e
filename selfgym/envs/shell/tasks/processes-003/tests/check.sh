sleep 1
[ -z "$(pgrep -f '[w]orker\.sh')" ]
[ -n "$(vpgrep -o bash '^bash /work/svc/metrics\.sh$')" ]
