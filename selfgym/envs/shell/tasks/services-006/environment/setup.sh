mkdir api .cache
cat > api/api.py <<'PY'
import http.server

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"api ok")

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", 8080), Handler).serve_forever()
PY
printf '#!/bin/bash\ncd /work/api\nexec python3 api.py >> /work/api/api.log 2>&1\n' > api/run.sh
chmod +x api/run.sh
cat > .cache/old-preview.py <<'PY'
import http.server
http.server.HTTPServer(("127.0.0.1", 8080), http.server.SimpleHTTPRequestHandler).serve_forever()
PY
nohup python3 /work/.cache/old-preview.py > /dev/null 2>&1 &
for _ in $(seq 50); do grep -q ':1F90 00000000:0000 0A' /proc/net/tcp && break; sleep 0.1; done
