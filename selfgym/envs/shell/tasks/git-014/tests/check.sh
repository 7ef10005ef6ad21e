[ "$(cat tags.txt)" = "$(printf 'v0.2\nv0.3\nv1.1')" ]
