[ "$(cat status.txt)" = "$(printf '200 6\n301 1\n404 2\n500 2\n503 1')" ]
