[ "$(stat -c %a run.sh)" = 744 ]
