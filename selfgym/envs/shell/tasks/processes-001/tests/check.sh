[ -z "$(pgrep -f '[h]og\.sh')" ]
# the keeper the setup started, not one started again or a process named like it
[ -n "$(vpgrep -o bash '^bash /work/svc/keeper\.sh$')" ]
