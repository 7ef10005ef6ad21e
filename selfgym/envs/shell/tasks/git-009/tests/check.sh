[ "$(cat lib/utils.py)" = "$(printf 'def helper():\n    return 2')" ]
[ "$(vgit lib log -1 --format=%s)" = "restore utils" ]
[ "$(vgit lib show HEAD:utils.py)" = "$(printf 'def helper():\n    return 2')" ]
[ -z "$(cd lib && vgit . status --porcelain)" ]
