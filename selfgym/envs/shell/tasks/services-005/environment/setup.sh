cat > worker.py <<'PY'
import os, sys, time
while True:
    print("mode=%s" % os.environ.get("MODE", "none"), flush=True)
    print("heartbeat", file=sys.stderr, flush=True)
    time.sleep(0.2)
PY
