[ "$(cat restore/a.txt)" = alpha ]
[ "$(cat restore/b/c.txt)" = gamma ]
