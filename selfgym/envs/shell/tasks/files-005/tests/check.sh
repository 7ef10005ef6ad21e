[ -L current ]
[ "$(cat current/VERSION)" = v1.10.0 ]
