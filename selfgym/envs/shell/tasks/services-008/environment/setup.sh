cat > counter.py <<'PY'
import http.server, signal, sys

served = 0

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        served += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, *args):
        pass

def stop(*_):
    open("/work/final.txt", "w").write("served %d\n" % served)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
http.server.HTTPServer(("127.0.0.1", 8081), Handler).serve_forever()
PY
nohup python3 /work/counter.py > /dev/null 2>&1 &
for _ in $(seq 50); do grep -q ':1F91 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done
for _ in 1 2 3; do python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8081/")'; done
