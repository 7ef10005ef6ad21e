ask() { python3 -I -c 'import socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3); print(s.recv(100).decode(), end="")' "$1"; }
for _ in 1 2 3 4 5 6 7 8 9 10; do ask 9090 > /dev/null 2>&1 && break; sleep 0.3; done
[ "$(ask 9090)" = 'app on 9090' ]
! ask 7000 2>/dev/null || exit 1
[ "$(pgrep -c -f '[s]vc/app\.py')" = 1 ]
grep -qx 'port=9090' svc/app.conf
