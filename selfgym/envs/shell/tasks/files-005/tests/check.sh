[ -L current ]
case "$(readlink current)" in releases/v1.10.0 | releases/v1.10.0/ | ./releases/v1.10.0 | /work/releases/v1.10.0 | /work/releases/v1.10.0/) ;; *) exit 1 ;; esac
[ "$(cat releases/v1.10.0/VERSION)" = v1.10.0 ]
