#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
cat > echo_upper.py <<'PY'
import socketserver

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)

socketserver.TCPServer(("127.0.0.1", 9000), Handler).serve_forever()
PY
nohup python3 echo_upper.py > /dev/null 2>&1 &
