[ "$(stat -c '%a %Y' dst/app.conf)" = "$(stat -c '%a %Y' src/app.conf)" ]
cmp -s dst/app.conf src/app.conf
