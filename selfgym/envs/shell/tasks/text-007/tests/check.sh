[ "$(cat top3.txt)" = "$(printf '%s\n' the cat sat)" ]
