[ "$(vgit proj log -1 --format=%s release/1.x)" = "fix overflow in parser" ]
[ "$(vgit proj rev-list --count release/1.x)" = 2 ]
[ "$(vgit proj show release/1.x:parser.txt)" = "$(printf 'a\nb-fixed\nc')" ]
[ "$(vgit proj show release/1.x:VERSION)" = v1 ]
! vgit proj cat-file -e release/1.x:feature.txt 2>/dev/null || exit 1
[ "$(vgit proj log -1 --format=%s main)" = "bump to 2" ]
