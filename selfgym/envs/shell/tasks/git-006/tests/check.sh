cd web
[ -z "$(vgit . status --porcelain)" ]
[ -z "$(vgit . ls-files '*.log')" ]
[ -n "$(vgit . ls-files .gitignore)" ]
vgit . check-ignore -q sub/debug.log
vgit . check-ignore -q new/other.log
[ -f old.log ] && [ -f server.log ] && [ -f sub/debug.log ] && [ -f index.html ]
