[ "$(vgit repo symbolic-ref --short HEAD)" = main ]
[ "$(vgit repo log --format=%s | tr '\n' ' ')" = "second first " ]
[ "$(cat repo/a.txt)" = "$(printf 'one\ntwo\nwork in progress')" ]
