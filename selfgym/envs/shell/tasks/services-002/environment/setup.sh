mkdir svc
cat > svc/app.py <<'PY'
import socket, time
port = int(open("/work/svc/app.conf").read().split("=")[1])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
sock.listen()
while True:
    conn, _ = sock.accept()
    conn.sendall(b"app on %d\n" % port)
    conn.close()
PY
echo 'port=7000' > svc/app.conf
nohup python3 /work/svc/app.py > /dev/null 2>&1 &
for _ in $(seq 50); do grep -q ':1B58 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done
