[ "$SELFGYM_ANSWER" = tree/a/b/two ]
[ "$(stat -c %a tree/a/b/two)" = 711 ]
[ "$(stat -c %a tree/c/three)" = 2755 ]
[ "$(stat -c %a tree/a/one tree/four | tr '\n' ' ')" = "755 755 " ]
