ask() { python3 -I -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", 9000), timeout=3)
f = s.makefile("rw")
for line in sys.argv[1:]:
    f.write(line + "\n"); f.flush()
    print(f.readline(), end="")
' "$@"; }
for _ in 1 2 3 4 5 6 7 8 9 10; do ask ping > /dev/null 2>&1 && break; sleep 0.3; done
[ "$(ask 'hello there' 'second Line')" = "$(printf 'HELLO THERE\nSECOND LINE')" ]
[ "$(ask 'again, 42')" = 'AGAIN, 42' ]
