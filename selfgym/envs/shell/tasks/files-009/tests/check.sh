[ "$(cd src && find . -type d | sort)" = "$(cd skeleton && find . -type d | sort)" ]
[ -z "$(find skeleton ! -type d)" ]
[ "$(find src -type f | wc -l)" = 6 ]
