[ "$(stat -c %a team)" = 2770 ]
