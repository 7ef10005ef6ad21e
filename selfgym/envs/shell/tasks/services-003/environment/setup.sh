mkdir kv
cat > kv/server.py <<'PY'
import http.server, signal, urllib.parse

data = {}

def load(*_):
    data.clear()
    for line in open("/work/kv/data.txt"):
        if "=" in line:
            key, value = line.strip().split("=", 1)
            data[key] = value

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        value = data.get(query.get("key", [""])[0])
        self.send_response(200 if value is not None else 404)
        self.end_headers()
        self.wfile.write((value or "missing").encode())

    def log_message(self, *args):
        pass

load()
signal.signal(signal.SIGHUP, load)
http.server.HTTPServer(("127.0.0.1", 8070), Handler).serve_forever()
PY
printf 'size=large\nshape=round\n' > kv/data.txt
nohup python3 /work/kv/server.py > /dev/null 2>&1 &
for _ in $(seq 50); do grep -q ':1F86 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done
