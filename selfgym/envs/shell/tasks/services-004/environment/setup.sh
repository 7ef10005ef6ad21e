mkdir srv
printf 'import socket, sys, time\ns = socket.socket()\ns.bind(("127.0.0.1", int(sys.argv[1])))\ns.listen()\nwhile True:\n    time.sleep(1)\n' > srv/listen.py
nohup python3 /work/srv/listen.py 6060 > /dev/null 2>&1 &
nohup python3 /work/srv/listen.py 7070 > /dev/null 2>&1 &
nohup python3 /work/srv/listen.py 8080 > /dev/null 2>&1 &
for _ in $(seq 50); do grep -q ':1B9E 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done
