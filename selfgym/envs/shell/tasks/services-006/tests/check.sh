get() { python3 -I -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1"; }
for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(get http://127.0.0.1:8080/health 2>/dev/null)" = 'api ok' ] && break; sleep 0.3; done
[ "$(get http://127.0.0.1:8080/health)" = 'api ok' ]
[ -z "$(pgrep -f '[o]ld-preview\.py')" ]
# the service's files as the setup wrote them (they must not change)
sha256sum --quiet -c - <<'SUMS'
857dd8e5544bd52b1e79d89cfe00eeaff3d1c08ceb5b6263731db0bfa3f7dbbe  api/api.py
1ca220e44773c7f8dd04722fbb2ac6b216e82c324de1db60415a65d4b2b8ea40  api/run.sh
SUMS
