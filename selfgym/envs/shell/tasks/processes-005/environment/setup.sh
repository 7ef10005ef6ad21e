mkdir app
cat > app/server.py <<'PY'
import os, socket, time
sock = socket.socket()
sock.bind(("127.0.0.1", int(os.environ["PORT"])))
sock.listen()
while True:
    time.sleep(1)
PY
printf 'import time\nwhile True:\n    time.sleep(1)\n' > app/idle.py
PORT=4817 nohup python3 app/server.py > /dev/null 2>&1 &
PORT=5000 nohup python3 app/idle.py > /dev/null 2>&1 &
for _ in $(seq 50); do grep -q ':12D1 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done
