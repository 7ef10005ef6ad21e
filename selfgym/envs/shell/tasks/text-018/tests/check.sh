[ "$(cat errors.txt)" = "$(printf "ValueError: bad value\nKeyError: 'user'")" ]
