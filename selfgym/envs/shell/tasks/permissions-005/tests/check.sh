[ "$(stat -c %a drop)" = 1777 ]
