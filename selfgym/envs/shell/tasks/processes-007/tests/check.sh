[ "$SELFGYM_ANSWER" = 4 ]
[ "$(vpgrep -o bash '^bash /work/jobs/crunch\.sh$' | wc -l)" = 4 ]
