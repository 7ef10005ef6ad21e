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

Python programs (a ``run`` with ``code`` rather than ``argv``) start as forks of a fork server: a process forked
from us at start-up, before any request, that never sees a request's data (see :class:`ForkServer`). It saves an
interpreter's start-up, 10-20 ms, on every program; Code-v0's judge and the agent's code run this way.

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
        if info.si_pid == FORK_SERVER.pid:
            FORK_SERVER.gone()


def other_pids():
    """Every process but us and the fork server (ours, clean: see :class:`ForkServer`)."""
    spared = {os.getpid(), FORK_SERVER.pid if FORK_SERVER.alive else None}
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in spared]


def kill_everything(deadline_s=5.0):
    """SIGKILL every process in the container but us and the fork server, until none is left (fork bombs race
    us: the pids limit holds them, and we go round again)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        pids = other_pids()
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        reap_orphans()
        FORK_SERVER.drain()
        time.sleep(0.002)
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


def oom_score_of(uid):
    # The agent's processes are the OOM killer's first choice, never the executor nor a verifier.
    return 1000 if uid == AGENT_UID else 0


def start(program, uid, stdin, stdout, stderr, cwd, env, pass_fds=()):
    """A process running ``program``: ``{"argv": [...]}`` executed, or ``{"code": "..."}`` a Python program run
    by a warm fork of the fork server (no interpreter start-up). Its file descriptors in ``pass_fds`` are kept
    (under the same numbers for an argv; as 3, 4... for code: ``env`` says which, see op_run)."""
    if program.get("code") is not None and FORK_SERVER.alive:
        return FORK_SERVER.spawn(program["code"], program.get("public", False), uid, stdin, stdout, stderr, cwd,
                                 env, pass_fds)
    argv = program["argv"] if program.get("code") is None else ["python3", "-I", "-S", "-c", program["code"]]
    return subprocess.Popen(
        argv, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=env, start_new_session=True,
        preexec_fn=become(uid, oom_score_of(uid)), close_fds=True, pass_fds=pass_fds,
    )


# --- the fork server: warm Python processes without a trace of any request -----------------------------------

class ForkServer:
    """A process forked from us at start-up, before any request came: it holds our code and nothing of any task.
    For a Python program (``{"code": ...}``) it forks a child that takes the uid it is for and runs the code in
    the already warm interpreter: a program starts in a millisecond rather than an interpreter's ten or twenty,
    and its memory is as clean as a new interpreter's (the fork server never sees a request's data: a program's
    input reaches the child through its own pipes). It runs as root, is not dumpable and never runs anything of
    the agent's; resets spare it, and it reaps its children and tells us how each ended. If it is ever gone,
    programs start as ``python3 -I -S -c CODE`` instead."""

    MAX_CODE = 4 * 1024 * 1024

    def __init__(self):
        self.pid = None
        self.sock = None
        self.exits = {}
        self.buffer_pids = []

    @property
    def alive(self):
        return self.sock is not None

    def gone(self):
        """It exited (and was reaped: its pid may be anyone's now)."""
        if self.sock is not None:
            self.sock.close()
        self.pid = self.sock = None

    def start(self):
        import socket

        if not hasattr(socket, "send_fds"):
            return  # Python < 3.9: programs start as interpreters
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end in (ours, theirs):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024 * 1024)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        pid = os.fork()
        if pid == 0:
            ours.close()
            try:
                serve_forks(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.sock = pid, ours

    def _receive(self, block):
        """One message from the fork server (None if none is waiting and not ``block``)."""
        self.sock.setblocking(block)
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self.sock.close()
            self.sock = None  # it is gone: programs are started the usual way from now on
            return None
        message = json.loads(data.decode("utf-8"))
        if "exited" in message:
            self.exits[message["exited"]] = message["code"]
        return message

    def drain(self):
        while self.alive and self._receive(False) is not None:
            pass

    def spawn(self, code, public, uid, stdin, stdout, stderr, cwd, env, pass_fds):
        """Start ``code`` as ``uid``. Only a public program's code (one that ships with selfgym) passes through
        the fork server, which keeps it compiled; any other code, and the cwd and environment, go to the child
        straight from us through a socket of its own: nothing of a request stays in the fork server's memory,
        which every later program (the agent's too) starts as a copy of."""
        import socket

        ends = [_child_end(stdin, True), _child_end(stdout, False), _child_end(stderr, False)]
        ours, childs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds = [end[0] for end in ends] + [childs.fileno()] + list(pass_fds)
        request = {"uid": uid, "oom": oom_score_of(uid), "dumpable": uid == AGENT_UID,
                   "public_code": code if public else None}
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode("utf-8")], fds)
            while True:
                reply = self._receive(True)
                if reply is None:
                    raise OSError("the fork server is gone")
                if "spawned" in reply or "error" in reply:
                    break
        finally:
            childs.close()
            for end in ends:
                if end[2]:
                    os.close(end[0])  # the child's end of a pipe we made
        if "error" in reply:
            ours.close()
            for end in ends:
                if end[1] is not None:
                    end[1].close()
            raise OSError(reply["error"])
        private = {"code": None if public else code, "cwd": cwd, "env": env}
        try:
            ours.settimeout(10.0)
            ours.sendall(json.dumps(private).encode("utf-8"), socket.MSG_NOSIGNAL)
        except OSError:
            pass  # it died before reading: it exits as it would have
        finally:
            ours.close()
        return Forked(reply["spawned"], self, *(end[1] for end in ends))


def _child_end(spec, for_reading):
    """(the child's fd, our file object or None, whether we made the fd) for subprocess-style ``spec``."""
    if spec == subprocess.PIPE:
        read_end, write_end = os.pipe()
        if for_reading:
            return read_end, os.fdopen(write_end, "wb", buffering=0), True
        return write_end, os.fdopen(read_end, "rb", buffering=0), True
    if spec == subprocess.DEVNULL:
        return os.open(os.devnull, os.O_RDWR), None, True
    return spec, None, False


class Forked:
    """A fork server's child, with what op_run uses of a Popen: ``pid``, the pipes, ``poll()``, ``wait()``."""

    def __init__(self, pid, server, stdin, stdout, stderr):
        self.pid, self.server = pid, server
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            self.server.drain()
            self.returncode = self.server.exits.pop(self.pid, None)
            if self.returncode is None and not self.server.alive:
                self.returncode = -signal.SIGKILL  # the fork server died with it
        return self.returncode

    def wait(self):
        while self.poll() is None:
            if self.server.alive:
                self.server._receive(True)
        return self.returncode


def serve_forks(sock):
    """The fork server's loop (see :class:`ForkServer`): a request with its file descriptors -> a child running
    the code; a child's end -> its exit code. Compiled programs are kept, so the same program compiles once."""
    import builtins
    import socket

    for fd in (0, 1, 2):  # never the host's channel: that is the executor's alone
        os.dup2(os.open(os.devnull, os.O_RDWR), fd)
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    compiled = {}
    children = set()
    while True:
        ready = selectors_select([sock, wakeup_r])
        if wakeup_r in ready:
            os.read(wakeup_r, 4096)
        for pid in list(children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                children.discard(pid)
                continue
            if done:
                children.discard(pid)
                sock.sendall(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())
        if sock not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(sock, ForkServer.MAX_CODE, 16)
        if not message:
            os._exit(0)  # the executor is gone
        try:
            request = json.loads(message.decode("utf-8"))
            code = None
            if request.get("public_code") is not None:
                code = compiled.get(request["public_code"])
                if code is None:
                    code = compiled[request["public_code"]] = compile(request["public_code"], "<string>", "exec")
                    if len(compiled) > 16:
                        del compiled[next(iter(compiled))]
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001 - a program that does not compile, no pids left
            for fd in fds:
                os.close(fd)
            sock.sendall(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}).encode())
            continue
        if pid == 0:
            run_forked(request, code, fds, [sock.fileno(), wakeup_r, wakeup_w], builtins)
        for fd in fds:
            os.close(fd)
        children.add(pid)
        sock.sendall(json.dumps({"spawned": pid}).encode())


def selectors_select(files):
    import select

    while True:
        try:
            return select.select(files, [], [])[0]
        except InterruptedError:
            continue


def run_forked(request, code, fds, ours, builtins):
    """In the fork server's child: read the rest of the request from our own socket (fds[3]), take the program's
    file descriptors and uid, then run it; never returns."""
    status = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        for fd in ours:
            os.close(fd)
        chunks = []
        while True:
            chunk = os.read(fds[3], 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(fds[3])
        private = json.loads(b"".join(chunks).decode("utf-8"))
        fds = fds[:3] + fds[4:]
        for target, fd in enumerate(fds):  # stdin, stdout, stderr, then the passed ones as 3, 4, ...
            os.dup2(fd, 100 + target)
        for fd in fds:
            os.close(fd)
        for target in range(len(fds)):
            os.dup2(100 + target, target)
            os.close(100 + target)
        os.closerange(len(fds), os.sysconf("SC_OPEN_MAX"))
        os.setsid()
        become(request["uid"], request["oom"])()
        if request["dumpable"]:  # as a new process of the agent's would be (a uid change had unset it)
            lib = libc()
            if lib is not None:
                lib.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        os.environ.clear()
        os.environ.update(private["env"])
        sys.argv = ["-c"]
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        try:
            os.chdir(private["cwd"])
            if code is None:
                code = compile(private["code"], "<string>", "exec")
            exec(code, {"__name__": "__main__", "__builtins__": builtins})
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                sys.stderr.write("%s\n" % exc.code)
        except BaseException:  # noqa: BLE001 - the program's own error, as python3 would print it
            import traceback

            traceback.print_exc()
            status = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
    finally:
        os._exit(status & 0xFF if status >= 0 else 1)


FORK_SERVER = ForkServer()


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


def program_of(req):
    """What a request runs: ``argv`` (a command) or ``code`` (a Python program, see :func:`start`)."""
    if req.get("code") is not None:
        return {"code": str(req["code"]), "public": bool(req.get("public"))}
    return {"argv": [str(arg) for arg in req["argv"]]}


def op_run(req):
    """Run ``argv`` (or ``code``) as ``user`` and wait for it; with ``subject``, also run the subject as the
    agent, wired to it.

    A subject (``{"argv": [...]}`` or ``{"code": ...}``, and ``"env"``) is the agent's side of a judged run: it
    starts first, as the agent's uid, its stdin and stdout connected by pipes to the main command (a verifier),
    which finds their file descriptors in ``$SELFGYM_SUBJECT_FDS`` ("read,write"). The subject's stderr is kept
    (capped); its exit code is reported when it ended before the main command did.
    """
    program = program_of(req)
    argv = program.get("argv") or ["python3"]
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
                subject = start(program_of(spec), AGENT_UID, to_subject_r, from_subject_w, subprocess.PIPE, cwd,
                                command_env(spec))
            finally:
                os.close(to_subject_r)
                os.close(from_subject_w)
            pass_fds = (from_subject_r, to_subject_w)
            forked = program.get("code") is not None and FORK_SERVER.alive  # its passed fds become 3 and 4
            env["SELFGYM_SUBJECT_FDS"] = "3,4" if forked else "%d,%d" % pass_fds
        try:
            proc = start(program, uid, subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
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
    FORK_SERVER.drain()
    return {"ok": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0],
            "fork_server": FORK_SERVER.pid if FORK_SERVER.alive else None}


OPS = {"run": op_run, "write": op_write, "read": op_read, "reset": op_reset, "ping": op_ping}


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir(WORK_DIR if os.path.isdir(WORK_DIR) else "/")
    undumpable = make_undumpable()  # inherited by the fork server, forked now: before any request came
    try:
        FORK_SERVER.start()
    except OSError:
        pass  # programs start as interpreters instead
    signal.signal(signal.SIGTERM, lambda *_: (kill_everything(1.0), os._exit(0)))
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
