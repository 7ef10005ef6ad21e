get() { python3 -I -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1"; }
[ "$(get http://127.0.0.1:8088/)" = up ]
