[ "$(cat svc/state.txt)" = 'alive ticks>=1' ]
[ -n "$(vpgrep -o python3 '^python3 /work/svc/daemon\.py$')" ]
