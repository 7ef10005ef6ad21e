[ "$(cat invalid.txt)" = "$(printf 'r2\nr3\nr4\nr5\nr6\nr8')" ]
