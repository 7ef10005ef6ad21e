[ "$(stat -c %a secret.key)" = 600 ]
[ "$(stat -c %a deploy.sh)" = 755 ]
