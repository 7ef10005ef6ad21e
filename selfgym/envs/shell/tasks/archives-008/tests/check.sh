[ "$(cat restored/config.yml)" = 'level: debug' ]
[ "$(ls restored)" = config.yml ]
# nothing else of the archive under /work: none of its members' names, file or folder, anywhere
[ -z "$(find . -path ./restored -prune -o \( -name config.yml -o -name keys.yml -o -name db -o -name etc -o -name var -o -name app -o -name lib \) -print)" ]
