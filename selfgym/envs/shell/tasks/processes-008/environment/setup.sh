mkdir svc
cat > svc/daemon.py <<'PY'
import signal, time
state = {"ticks": 0}
def dump(*_):
    open("/work/svc/state.txt", "w").write("alive ticks>=%d\n" % min(state["ticks"], 1))
signal.signal(signal.SIGUSR1, dump)
while True:
    state["ticks"] += 1
    time.sleep(0.1)
PY
nohup python3 /work/svc/daemon.py > /dev/null 2>&1 &
sleep 0.5
