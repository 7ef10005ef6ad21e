[ "$(cat restored/config.yml)" = 'level: debug' ]
[ "$(find . -path ./restored -prune -o -newer backup.tar.bz2 -type f -print | grep -v '^\./\.' | sort)" = "" ]
[ ! -e etc ] && [ ! -e var ] && [ "$(ls restored)" = config.yml ]
