[ "$(vgit app symbolic-ref --short HEAD)" = feature/login ]
[ "$(vgit app log -1 --format=%s)" = "add login stub" ]
[ "$(vgit app rev-list --count HEAD)" = 2 ]
[ "$(vgit app log -1 --format=%s main)" = "start payments" ]
