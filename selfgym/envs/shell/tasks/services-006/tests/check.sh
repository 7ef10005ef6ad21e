get() { python3 -I -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1"; }
for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(get http://127.0.0.1:8080/health 2>/dev/null)" = 'api ok' ] && break; sleep 0.3; done
[ "$(get http://127.0.0.1:8080/health)" = 'api ok' ]
[ -z "$(pgrep -f '[o]ld-preview\.py')" ]
sha256sum --quiet -c .sums
