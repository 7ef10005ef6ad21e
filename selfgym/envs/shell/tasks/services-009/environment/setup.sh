mkdir app
cat > app/logger.py <<'PY'
import signal, time
path = "/work/app/app.log"
log = open(path, "a", buffering=1)

def reopen(*_):
    global log
    log.close()
    log = open(path, "a", buffering=1)

signal.signal(signal.SIGUSR1, reopen)
n = 0
while True:
    n += 1
    log.write("line %d\n" % n)
    time.sleep(0.1)
PY
nohup python3 /work/app/logger.py > /dev/null 2>&1 &
for _ in $(seq 50); do [ -s app/app.log ] && break; sleep 0.1; done
