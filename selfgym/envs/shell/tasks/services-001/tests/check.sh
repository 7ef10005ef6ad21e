get() { python3 -I -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1"; }
for _ in 1 2 3 4 5 6 7 8 9 10; do get http://127.0.0.1:8000/version.txt > /dev/null 2>&1 && break; sleep 0.3; done
[ "$(get http://127.0.0.1:8000/version.txt)" = v1.2.3 ]
[ "$(get http://127.0.0.1:8000/index.html)" = '<h1>welcome</h1>' ]
