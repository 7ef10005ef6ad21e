[ "$(vgit proj symbolic-ref --short HEAD)" = main ]
[ "$(vgit proj rev-list --parents -n 1 HEAD | wc -w)" = 3 ]
vgit proj merge-base --is-ancestor fix HEAD
[ "$(vgit proj show HEAD:config.txt)" = "$(printf 'timeout=30\nretries=5')" ]
[ "$(cat proj/fix.txt)" = patched ]
[ -z "$(cd proj && vgit . status --porcelain)" ]
