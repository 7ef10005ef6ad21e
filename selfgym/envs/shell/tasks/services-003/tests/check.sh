get() { python3 -I -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1"; }
for _ in 1 2 3 4 5 6 7 8 9 10; do get 'http://127.0.0.1:8070/get?key=size' > /dev/null 2>&1 && break; sleep 0.3; done
[ "$(get 'http://127.0.0.1:8070/get?key=color')" = blue ]
[ "$(get 'http://127.0.0.1:8070/get?key=shape')" = round ]
[ "$(pgrep -c -f '[k]v/server\.py')" = 1 ]
