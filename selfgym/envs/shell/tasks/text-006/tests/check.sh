[ "$(cat active.txt)" = "$(printf '%s\n' alice bob carol trent)" ]
