"""The selfgym sandbox executor: PID 1 of every sandbox container.

This file runs *inside* the container (a bootstrap reads it from stdin and ``exec``s it), so it must use the
standard library only and run on any Python >= 3.8. The host talks to it over the container's attached stdin/stdout with
length-prefixed JSON messages (4-byte big-endian length, then UTF-8 JSON); binary payloads are base64.

Why a resident executor rather than one ``docker exec`` per command: an exec costs a round trip through dockerd,
containerd and runc (tens of milliseconds); here a command costs one fork+exec inside the container. Being PID 1
also makes us immune to ``kill -9 -1`` from sandboxed code (the kernel never delivers it to a namespace's init)
and lets us reap every orphan.

Requests (``op``): ``run``, ``write``, ``read``, ``reset``, ``ping``. Every reply carries ``ok``; failures carry
``error``. The executor exits when its stdin closes, so a crashed host process takes its containers with it.
"""

import base64
import json
import os
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import time

PROTOCOL_VERSION = 1
HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 256 * 1024 * 1024
SCRATCH_DIRS = ("/work", "/tmp", "/dev/shm")
WORK_DIR = "/work"
DRAIN_AFTER_EXIT_S = 0.2  # background children may hold the pipes open; do not wait for them past this
TAIL_BYTES = 4096  # of a truncated stream we keep the head and this much of the end (tracebacks live there)
OOM_COUNTER_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
PIDS_COUNTER_FILES = ("/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events")


def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message():
    header = read_exact(0, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_REQUEST_BYTES:
        raise ValueError("request of %d bytes exceeds the %d byte limit" % (length, MAX_REQUEST_BYTES))
    body = read_exact(0, length)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def write_message(message):
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    data = HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(1, view)
        view = view[written:]


def b64(data):
    return base64.b64encode(data).decode("ascii")


class CappedBuffer:
    """Keeps the first ``cap`` bytes and the last ``TAIL_BYTES`` of a stream, counting everything."""

    def __init__(self, cap):
        self.cap = max(0, int(cap))
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data):
        self.total += len(data)
        room = self.cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > TAIL_BYTES:
                del self.tail[: len(self.tail) - TAIL_BYTES]

    @property
    def truncated(self):
        return self.total > len(self.head) + len(self.tail)

    def value(self):
        if not self.truncated:
            return bytes(self.head + self.tail)
        dropped = self.total - len(self.head) - len(self.tail)
        marker = ("\n... [%d bytes truncated] ...\n" % dropped).encode()
        return bytes(self.head) + marker + bytes(self.tail)


def cgroup_counter(paths, name):
    """A counter from a cgroup events file (v2 path first, then v1), or None where none is readable."""
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == name:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def counters():
    return cgroup_counter(OOM_COUNTER_FILES, "oom_kill"), cgroup_counter(PIDS_COUNTER_FILES, "max")


def increased(before, after):
    return before is not None and after is not None and after > before


def reap_orphans(keep_pid=None):
    """Reap exited children except ``keep_pid`` (left for its Popen object to collect)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == keep_pid:
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:
            pass


def other_pids():
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]


def kill_everything(deadline_s=5.0):
    """SIGKILL every process in the container but us, until none is left (fork bombs race us)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reap_orphans()
        if not other_pids():
            return True
        time.sleep(0.005)
    return not other_pids()


def raise_own_oom_score():
    # Runs in the child before exec: make sandboxed code, never the executor, the OOM killer's first choice.
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def disk_full():
    for path in (WORK_DIR, "/tmp"):
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        if st.f_blocks and st.f_bavail * st.f_frsize < 64 * 1024:
            return True
    return False


def op_run(req):
    argv = req["argv"]
    timeout = float(req.get("timeout") or 10.0)
    cap = int(req.get("max_output", 256 * 1024))
    stdin_data = base64.b64decode(req["stdin"]) if req.get("stdin") is not None else None
    env = dict(os.environ)
    env.update(req.get("env") or {})
    cwd = req.get("cwd") or WORK_DIR
    out, err = CappedBuffer(cap), CappedBuffer(cap)
    oom_before, pids_before = counters()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=raise_own_oom_score,
            close_fds=True,
        )
    except OSError as exc:  # missing binary, bad cwd, no pids left
        return {
            "ok": True, "exit_code": 127 if isinstance(exc, FileNotFoundError) else 126,
            "stdout": "", "stderr": b64(("selfgym sandbox: cannot start %r: %s\n" % (argv[0], exc)).encode()),
            "duration_s": time.monotonic() - started, "timed_out": False, "oom_killed": False,
            "truncated": False, "disk_full": disk_full(),
            "pids_limited": isinstance(exc, BlockingIOError) or increased(pids_before, counters()[1]),
        }
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    pending_stdin = memoryview(stdin_data) if stdin_data is not None else None
    if pending_stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if pending_stdin:
            sel.register(proc.stdin, selectors.EVENT_WRITE, None)
        else:
            proc.stdin.close()
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(proc.pid)
            sel.register(pidfd, selectors.EVENT_READ, "exit")
        except OSError:
            pidfd = None
    deadline = started + timeout
    drain_deadline = None
    timed_out = False
    returncode = None
    while True:
        now = time.monotonic()
        if returncode is None:
            returncode = proc.poll()
            if returncode is not None:
                drain_deadline = now + DRAIN_AFTER_EXIT_S
                if pidfd is not None:
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = None
        readers = [k for k in sel.get_map().values() if k.data in (out, err)]
        if returncode is not None and (not readers or now >= drain_deadline):
            break
        if returncode is None and now >= deadline:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            returncode = proc.wait()  # before kill_everything, whose reaping would hide the signal (exit 0)
            kill_everything()  # the tree may have left the process group (setsid, double fork)
            drain_deadline = time.monotonic() + DRAIN_AFTER_EXIT_S
            continue
        limit = (drain_deadline if returncode is not None else deadline) - now
        for key, _ in sel.select(timeout=max(0.0, min(limit, 0.1))):
            if key.data == "exit":
                continue
            if key.data is None:  # stdin writable
                try:
                    written = os.write(key.fd, pending_stdin[:65536])
                    pending_stdin = pending_stdin[written:]
                except (BrokenPipeError, OSError):
                    pending_stdin = pending_stdin[:0]
                if not pending_stdin:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                continue
            try:
                chunk = os.read(key.fd, 65536)
            except OSError:
                chunk = b""
            if chunk:
                key.data.add(chunk)
            else:
                sel.unregister(key.fileobj)
        reap_orphans(keep_pid=proc.pid)
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        if key.fileobj is not pidfd:
            key.fileobj.close()
    if pidfd is not None:
        os.close(pidfd)
    sel.close()
    oom_after, pids_after = counters()
    pids_limited = increased(pids_before, pids_after)
    if not req.get("keep_background") or pids_limited:
        kill_everything()  # nothing outlives its command: no stray writer, no fork bomb left running
    reap_orphans()
    exit_code = returncode if returncode >= 0 else 128 - returncode
    return {
        "ok": True,
        "exit_code": exit_code,
        "stdout": b64(out.value()),
        "stderr": b64(err.value()),
        "duration_s": time.monotonic() - started,
        "timed_out": timed_out,
        "oom_killed": increased(oom_before, oom_after),
        "truncated": out.truncated or err.truncated,
        "disk_full": disk_full(),
        "pids_limited": pids_limited,
    }


def resolve(path):
    return os.path.normpath(os.path.join(WORK_DIR, path))


def op_write(req):
    for path, spec in req["files"].items():
        full = resolve(path)
        parent = os.path.dirname(full)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(full, "wb") as f:
            f.write(base64.b64decode(spec["data"]))
        if spec.get("mode") is not None:
            os.chmod(full, int(spec["mode"]))
    return {"ok": True}


def op_read(req):
    full = resolve(req["path"])
    limit = int(req.get("max_bytes", 64 * 1024 * 1024))
    with open(full, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        return {"ok": False, "error": "%s is larger than %d bytes" % (req["path"], limit)}
    return {"ok": True, "data": b64(data)}


def make_removable(func, path, _exc):
    # Sandboxed code may chmod its files to 000; we own them, so give ourselves the rights back and retry.
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)
    except OSError:
        pass


def wipe(directory):
    try:
        os.chmod(directory, 0o1777)  # sandboxed code may have locked its own scratch dir (chmod 000 /work)
    except OSError:
        pass  # not ours (/dev/shm is root's, and already 1777)
    try:
        entries = os.listdir(directory)
    except OSError:
        return False
    for name in entries:
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                os.chmod(path, 0o700)
            except OSError:
                pass
            shutil.rmtree(path, onerror=make_removable)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
    try:
        return not os.listdir(directory)
    except OSError:
        return False


def op_reset(req):
    killed = kill_everything()
    clean = all(wipe(d) for d in SCRATCH_DIRS if os.path.isdir(d))
    os.chdir(WORK_DIR if os.path.isdir(WORK_DIR) else "/")
    if not (killed and clean):
        return {"ok": False, "error": "reset left %s" % ("processes" if not killed else "files")}
    return {"ok": True}


def op_ping(req):
    return {"ok": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0]}


OPS = {"run": op_run, "write": op_write, "read": op_read, "reset": op_reset, "ping": op_ping}


def main():
    signal.signal(signal.SIGTERM, lambda *_: (kill_everything(1.0), os._exit(0)))
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir(WORK_DIR if os.path.isdir(WORK_DIR) else "/")
    write_message({"ok": True, "ready": True, "protocol": PROTOCOL_VERSION, "pid": os.getpid()})
    while True:
        try:
            req = read_message()
        except (ValueError, UnicodeDecodeError) as exc:
            write_message({"ok": False, "error": "bad request: %s" % exc})
            continue
        if req is None:  # the host is gone: clean up and let the container exit
            kill_everything(1.0)
            return
        op = OPS.get(req.get("op"))
        try:
            reply = op(req) if op else {"ok": False, "error": "unknown op %r" % req.get("op")}
        except Exception as exc:  # a bad path or a full disk must not kill PID 1
            reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        reply["id"] = req.get("id")
        write_message(reply)
        reap_orphans()


if __name__ == "__main__":
    main()
