[ "$(cat svc/state.txt)" = 'alive ticks>=1' ]
[ -n "$(pgrep -f '[d]aemon\.py')" ]
