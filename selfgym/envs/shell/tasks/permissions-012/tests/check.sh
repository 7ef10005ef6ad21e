[ "$(stat -c '%a %Y' dst/app.conf)" = "604 $(date -d '2021-06-01 12:34:56' +%s)" ]
[ "$(cat dst/app.conf)" = 'port = 80' ]
