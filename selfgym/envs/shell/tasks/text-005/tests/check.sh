[ "$(cat sorted.txt)" = "$(printf '%s\n' 1000 100 99 42 15 8 7 0 -3 -20)" ]
