#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cat > echo_upper.py <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 9000))
s.listen()
conn, _ = s.accept()
for line in conn.makefile("rb"):
    conn.sendall(line.upper())
PY
nohup python3 echo_upper.py > /dev/null 2>&1 &
