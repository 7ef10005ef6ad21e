#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
cat > echo_upper.py <<'PY'
import socketserver

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())

socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(("127.0.0.1", 9000), Handler).serve_forever()
PY
nohup python3 echo_upper.py > /dev/null 2>&1 &
