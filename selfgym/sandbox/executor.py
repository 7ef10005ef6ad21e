"""The selfgym sandbox executor: PID 1 of every sandbox container.

This file runs *inside* the container (a bootstrap reads it from stdin and ``exec``s it), so it must use the
standard library only and run on any Python >= 3.8. The host talks to it over the container's attached stdin/stdout with
length-prefixed JSON messages (4-byte big-endian length, then UTF-8 JSON); binary payloads are base64.

Why a resident executor rather than one ``docker exec`` per command: an exec costs a round trip through dockerd,
containerd and runc (tens of milliseconds); here a command costs one fork+exec inside the container. Being PID 1
also makes us immune to ``kill -9 -1`` from sandboxed code (the kernel never delivers it to a namespace's init)
and lets us reap every orphan.

Privilege separation. The executor runs as root *inside* the container, with only the capabilities it needs
(setuid/setgid to start commands under other uids, kill, and DAC override/fowner to wipe what sandboxed code
locked), and is not dumpable. Every command runs under an unprivileged uid with no capabilities at all:

* ``AGENT_UID`` (1000) for the agent's code, and for files the host writes for it;
* ``VERIFIER_UID`` (1001) for the code that judges the agent (a task's check script, a test harness).

A process of the agent's uid can therefore neither read, write, trace nor signal the executor (its memory, its
stdin/stdout channel to the host, ``/proc/1/fd``), nor a verifier process (a different uid); files the host writes
and reads are opened by a child running as the agent's uid, so links the agent planted resolve with the agent's
rights, never root's.

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

PROTOCOL_VERSION = 2
HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 256 * 1024 * 1024
AGENT_UID = 1000
VERIFIER_UID = 1001
USERS = {"agent": AGENT_UID, "verifier": VERIFIER_UID}
# Everything a process of the sandbox may write to (the root file system is read-only): reset empties them all.
SCRATCH_DIRS = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
WORK_DIR = "/work"
DRAIN_AFTER_EXIT_S = 0.2  # background children may hold the pipes open; do not wait for them past this
TAIL_BYTES = 4096  # of a truncated stream we keep the head and this much of the end (tracebacks live there)
SUBJECT_STDERR_BYTES = 16 * 1024
OOM_COUNTER_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
PIDS_COUNTER_FILES = ("/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events")
SYSV_IPC = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}
IPC_RMID = 0
PR_SET_DUMPABLE = 4


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


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_message(message):
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    write_all(1, HEADER.pack(len(body)) + body)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def libc():
    """The C library through ctypes, or None where ctypes is missing (then the checks that need it fail closed)."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return None


def make_undumpable():
    """No core dumps and no ptrace/``/proc/1/mem`` access to us even from our own uid; True when it took."""
    lib = libc()
    return lib is not None and lib.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


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


def reap_orphans(keep_pids=()):
    """Reap exited children except ``keep_pids`` (left for their Popen objects to collect)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in keep_pids:
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


def become(uid, oom_score_adj):
    """What a child runs between fork and exec: the OOM score (while still root), then the uid, for good."""
    def drop():
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(oom_score_adj))
        except OSError:
            pass
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to a non-zero uid: every capability goes, and no-new-privileges keeps it so
    return drop


def user_of(req):
    user = req.get("user") or "agent"
    if user not in USERS:
        raise ValueError("unknown user %r (expected one of %s)" % (user, ", ".join(sorted(USERS))))
    return USERS[user]


def disk_full():
    for path in (WORK_DIR, "/tmp"):
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        if st.f_blocks and st.f_bavail * st.f_frsize < 64 * 1024:
            return True
    return False


def start(argv, uid, stdin, stdout, stderr, cwd, env, pass_fds=()):
    # The agent's processes are the OOM killer's first choice, never the executor nor a verifier.
    return subprocess.Popen(
        argv, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=env, start_new_session=True,
        preexec_fn=become(uid, 1000 if uid == AGENT_UID else 0), close_fds=True, pass_fds=pass_fds,
    )


def cannot_start(argv, exc, started, pids_before):
    return {
        "ok": True, "exit_code": 127 if isinstance(exc, FileNotFoundError) else 126,
        "stdout": "", "stderr": b64(("selfgym sandbox: cannot start %r: %s\n" % (argv[0], exc)).encode()),
        "duration_s": time.monotonic() - started, "timed_out": False, "oom_killed": False,
        "truncated": False, "disk_full": disk_full(),
        "pids_limited": isinstance(exc, BlockingIOError) or increased(pids_before, counters()[1]),
    }


def command_env(req):
    env = dict(os.environ)
    env.update(req.get("env") or {})
    return env


def op_run(req):
    """Run ``argv`` as ``user`` and wait for it; with ``subject``, also run the subject as the agent, wired to it.

    A subject (``{"argv": [...], "env": {...}}``) is the agent's side of a judged run: it starts first, as the
    agent's uid, its stdin and stdout connected by pipes to the main command (a verifier), which finds their file
    descriptors in ``$SELFGYM_SUBJECT_FDS`` ("read,write"). The subject's stderr is kept (capped); its exit code is
    reported when it ended before the main command did.
    """
    argv = req["argv"]
    uid = user_of(req)
    timeout = float(req.get("timeout") or 10.0)
    cap = int(req.get("max_output", 256 * 1024))
    stdin_data = base64.b64decode(req["stdin"]) if req.get("stdin") is not None else None
    env = command_env(req)
    cwd = req.get("cwd") or WORK_DIR
    out, err = CappedBuffer(cap), CappedBuffer(cap)
    subject_err = CappedBuffer(SUBJECT_STDERR_BYTES)
    oom_before, pids_before = counters()
    started = time.monotonic()
    subject = None
    spec = req.get("subject")
    try:
        pass_fds = ()
        if spec is not None:
            to_subject_r, to_subject_w = os.pipe()
            from_subject_r, from_subject_w = os.pipe()
            try:
                subject = start(spec["argv"], AGENT_UID, to_subject_r, from_subject_w, subprocess.PIPE, cwd,
                                command_env(spec))
            finally:
                os.close(to_subject_r)
                os.close(from_subject_w)
            pass_fds = (from_subject_r, to_subject_w)
            env["SELFGYM_SUBJECT_FDS"] = "%d,%d" % pass_fds
        try:
            proc = start(argv, uid, subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                         subprocess.PIPE, subprocess.PIPE, cwd, env, pass_fds)
        finally:
            for fd in pass_fds:
                os.close(fd)
    except (OSError, subprocess.SubprocessError) as exc:  # missing binary, bad cwd, no pids left
        if subject is not None:
            kill_everything()
        return cannot_start(argv, exc, started, pids_before)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    if subject is not None:
        sel.register(subject.stderr, selectors.EVENT_READ, subject_err)
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
    keep = (proc.pid, subject.pid) if subject is not None else (proc.pid,)
    deadline = started + timeout
    drain_deadline = None
    timed_out = False
    returncode = None
    while True:
        now = time.monotonic()
        if subject is not None and subject.returncode is None:
            subject.poll()  # reaped here, so that reap_orphans is not held up by its zombie
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
        reap_orphans(keep_pids=keep)
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        if key.fileobj is not pidfd:
            key.fileobj.close()
    if pidfd is not None:
        os.close(pidfd)
    sel.close()
    subject_code = subject.poll() if subject is not None else None
    oom_after, pids_after = counters()
    pids_limited = increased(pids_before, pids_after)
    if not req.get("keep_background") or pids_limited or subject is not None:
        kill_everything()  # nothing outlives its command: no stray writer, no fork bomb left running
    reap_orphans()
    reply = {
        "ok": True,
        "exit_code": exit_code(returncode),
        "stdout": b64(out.value()),
        "stderr": b64(err.value()),
        "duration_s": time.monotonic() - started,
        "timed_out": timed_out,
        "oom_killed": increased(oom_before, oom_after),
        "truncated": out.truncated or err.truncated,
        "disk_full": disk_full(),
        "pids_limited": pids_limited,
    }
    if subject is not None:
        reply["subject"] = {"exit_code": None if subject_code is None else exit_code(subject_code),
                            "stderr": b64(subject_err.value())}
    return reply


def exit_code(returncode):
    return returncode if returncode >= 0 else 128 - returncode


# --- files, opened with the rights of the uid they are for -------------------------------------------------------

def as_user(uid, work, payload_cap):
    """Run ``work()`` (returning bytes) in a child that took ``uid`` for good; its bytes, or raise its error.

    The child's output comes back through a pipe and is cut at ``payload_cap`` bytes: the child runs as the
    agent's uid, so the agent's processes may signal it, and whatever it sends is not trusted beyond its size.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_end)
            become(uid, 1000 if uid == AGENT_UID else 0)()
            data = b"+" + work()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
            data, code = ("-%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace"), 1
        try:
            write_all(write_end, data)
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, size, limit = [], 0, payload_cap + 1  # + the status byte
    with os.fdopen(read_end, "rb") as pipe:
        while size <= limit:
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    os.waitpid(pid, 0)
    data = b"".join(chunks)
    if data[:1] == b"-":
        raise OSError(data[1:1000].decode("utf-8", "replace"))
    if data[:1] != b"+":
        raise OSError("the file helper died")
    if size > limit:
        raise ValueError("the answer was larger than %d bytes" % payload_cap)
    return data[1:]


def resolve(path):
    return os.path.normpath(os.path.join(WORK_DIR, path))


def op_write(req):
    files = req["files"]

    def work():
        for path, spec in files.items():
            full = resolve(path)
            parent = os.path.dirname(full)
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(full, "wb") as f:
                f.write(base64.b64decode(spec["data"]))
            if spec.get("mode") is not None:
                os.chmod(full, int(spec["mode"]))
        return b""

    as_user(user_of(req), work, 0)
    return {"ok": True}


def op_read(req):
    full = resolve(req["path"])
    limit = int(req.get("max_bytes", 64 * 1024 * 1024))

    def work():
        with open(full, "rb") as f:
            return f.read(limit + 1)

    data = as_user(user_of(req), work, limit + 1)
    if len(data) > limit:
        return {"ok": False, "error": "%s is larger than %d bytes" % (req["path"], limit)}
    return {"ok": True, "data": b64(data)}


# --- reset ----------------------------------------------------------------------------------------------------------

def make_removable(func, path, _exc):
    # Sandboxed code may chmod its files to 000; we hold CAP_FOWNER, so give the rights back and retry.
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)
    except OSError:
        pass


def wipe(directory):
    """Empty ``directory`` (never following links: rmtree works on file descriptors) and give back its mode."""
    try:
        os.chmod(directory, 0o1777)  # sandboxed code may have locked its own scratch dir (chmod 000 /work)
    except OSError:
        pass
    try:
        for name in os.listxattr(directory):
            os.removexattr(directory, name)
    except (OSError, AttributeError):
        pass
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


def sysv_objects():
    """(kind, id) of every System V shared memory segment, message queue and semaphore set in our IPC namespace."""
    found = []
    for kind in SYSV_IPC:
        try:
            with open("/proc/sysvipc/" + kind) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        found += [(kind, int(row.split()[1])) for row in rows if row.strip()]
    return found


def remove_ipc():
    """Remove every System V IPC object (as the uid that made it: IPC_RMID needs the owner, not root); True
    when none is left. POSIX message queues are files of /dev/mqueue, which :func:`wipe` empties."""
    objects = sysv_objects()
    if objects:
        def work():
            lib = libc()
            if lib is not None:
                for kind, ident in objects:
                    if kind == "sem":
                        lib.semctl(ident, 0, IPC_RMID)
                    else:
                        getattr(lib, SYSV_IPC[kind])(ident, IPC_RMID, None)
            return b""

        for uid in USERS.values():
            try:
                as_user(uid, work, 0)
            except OSError:
                pass
    return not sysv_objects()


def op_reset(req):
    killed = kill_everything()
    ipc_clean = remove_ipc()
    files_clean = all(wipe(d) for d in SCRATCH_DIRS if os.path.isdir(d))
    os.chdir(WORK_DIR if os.path.isdir(WORK_DIR) else "/")
    left = [what for what, clean in (("processes", killed), ("IPC objects", ipc_clean), ("files", files_clean))
            if not clean]
    if left:
        return {"ok": False, "error": "reset left %s" % ", ".join(left)}
    return {"ok": True}


def op_ping(req):
    return {"ok": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0]}


OPS = {"run": op_run, "write": op_write, "read": op_read, "reset": op_reset, "ping": op_ping}


def main():
    signal.signal(signal.SIGTERM, lambda *_: (kill_everything(1.0), os._exit(0)))
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir(WORK_DIR if os.path.isdir(WORK_DIR) else "/")
    undumpable = make_undumpable()
    write_message({"ok": True, "ready": True, "protocol": PROTOCOL_VERSION, "pid": os.getpid(),
                   "uid": os.getuid(), "undumpable": undumpable,
                   "agent_uid": AGENT_UID, "verifier_uid": VERIFIER_UID})
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
