"""The selfgym sandbox supervisor (the "executor" of the host's messages): PID 1 of every sandbox container.

This file runs *inside* the container (a bootstrap reads it from stdin and ``exec``s it), so it must use the
standard library only and run on any Python >= 3.8 with ``ctypes``. The host talks to it over the container's
attached stdin/stdout with length-prefixed JSON messages (4-byte big-endian length, then UTF-8 JSON); binary
payloads are base64.

Why a resident executor rather than one ``docker exec`` per command: an exec costs a round trip through dockerd,
containerd and runc (tens of milliseconds); here a command costs one fork (+ exec) inside the container.

**A fresh kernel for every episode.** Everything an episode runs lives in namespaces of its own, made new for it:
a PID namespace (the pid counter starts at 1, no process of another episode is visible or alive), a network
namespace (loopback only: no socket, port, TIME_WAIT entry or byte counter of another episode), an IPC namespace
(System V objects and POSIX queues) and a mount namespace with fresh tmpfs file systems on ``/work``, ``/tmp`` and
``/dev/shm`` (new inode numbers, nothing written before), its own ``/proc`` and no view of the container's cgroup
counters. A reset does not wipe anything: it kills the episode's first process (PID 1 of its namespace, so the
kernel kills every other) and switches to a spare episode made ahead of time, then has the next spare made.
Nothing an episode can set in the kernel reaches the next by construction, not by a list of things to clean.

The processes, by what they may do:

* the **executor** (this process, PID 1 of the container, root): reads requests, relays programs' output, reads
  the container's cgroup counters. Once the first episode exists it drops every capability.
* the **origin** (root, forked at start-up before any request): makes episodes. It alone keeps ``CAP_SYS_ADMIN``
  and ``CAP_NET_ADMIN``, and it never sees a request's data: it only reads "make an episode" messages.
* an **episode server** per episode (root, PID 1 of the episode's namespaces, a fork of the origin): sets the
  episode's mounts and loopback up, drops ``CAP_SYS_ADMIN``/``CAP_NET_ADMIN``, then starts the episode's
  programs: a fork of itself per program, which takes the program's uid (no capability left) and runs a Python
  program in the already warm interpreter or ``exec``s a command. As a fork of the origin its memory holds no
  request's data, so neither does any program's: a program's code, environment and input reach only its own
  process, through pipes and a socket of its own.

Every program runs under an unprivileged uid with no capabilities, ``no-new-privileges`` and a seccomp filter that
takes back what the container's extra capabilities made the engine allow (mounts, new namespaces, ``setns``,
``bpf``, ...): ``AGENT_UID`` (1000) for the agent's code and the files the host writes for it; ``VERIFIER_UID``
(1001) for the code that judges it. Neither can read, trace or signal the executor, the origin or an episode
server (root, not dumpable), and the executor and the origin are not even in the episode's PID namespace.

Requests (``op``): ``run``, ``write``, ``read``, ``reset``, ``snapshot``, ``restore``, ``ping``. Every reply carries
``ok``; failures carry ``error``. The executor exits when its stdin closes, so a crashed host process takes its
containers with it.
"""

import base64
import fcntl
import gc
import json
import os
import select
import selectors
import signal
import socket
import struct
import sys
import time

PROTOCOL_VERSION = 3
HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 256 * 1024 * 1024
ROOT_UID = 0
AGENT_UID = 1000
VERIFIER_UID = 1001
USERS = {"agent": AGENT_UID, "verifier": VERIFIER_UID}
WORK_DIR = "/work"
DRAIN_AFTER_EXIT_S = 0.2  # background children may hold the pipes open; do not wait for them past this
TAIL_BYTES = 4096  # of a truncated stream we keep the head and this much of the end (tracebacks live there)
SUBJECT_STDERR_BYTES = 16 * 1024
OOM_COUNTER_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
PIDS_COUNTER_FILES = ("/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events")
EPISODE_START_S = 10.0  # a new episode's namespaces and mounts take a few milliseconds; past this it failed
EPISODE_END_S = 5.0  # killing an episode's init kills its namespace; past this something will not die
INTERNAL_TIMEOUT_S = 60.0  # of the executor's own programs (file writes and reads, snapshots)

# Linux constants (the same on every architecture we run on)
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER, CLONE_NEWCGROUP = (
    0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000, 0x10000000, 0x02000000)
CLONE_NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUSER | \
    CLONE_NEWCGROUP
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_NET_ADMIN, CAP_SYS_ADMIN = (
    0, 1, 3, 5, 6, 7, 12, 21)
CAP_SYS_NICE = 23
AF_UNIX = 1

# What the episode's programs never get, whatever the container's capabilities let the engine's seccomp profile
# allow: exactly what Docker's default profile withholds from a container without CAP_SYS_ADMIN. Numbers by
# architecture (x86-64, arm64); ``clone`` is allowed without namespace flags, ``clone3`` answers ENOSYS so that C
# libraries fall back to ``clone`` (as under Docker's profile).
SECCOMP_ARCHES = {
    "x86_64": {"audit_arch": 0xC000003E, "x32_bit": 0x40000000, "clone": 56, "clone3": 435, "socket": 41,
               "deny": {"unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
                        "bpf": 321, "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
                        "open_by_handle_at": 304, "quotactl": 179, "quotactl_fd": 443, "lookup_dcookie": 212,
                        "syslog": 103, "sethostname": 170, "setdomainname": 171, "open_tree": 428,
                        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
                        "mount_setattr": 442, "keyctl": 250, "add_key": 248, "request_key": 249}},
    "aarch64": {"audit_arch": 0xC00000B7, "x32_bit": None, "clone": 220, "clone3": 435, "socket": 198,
                "deny": {"unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "bpf": 280,
                         "perf_event_open": 241, "fanotify_init": 262, "name_to_handle_at": 264,
                         "open_by_handle_at": 265, "quotactl": 60, "quotactl_fd": 443, "lookup_dcookie": 18,
                         "syslog": 116, "sethostname": 161, "setdomainname": 162, "open_tree": 428,
                         "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
                         "mount_setattr": 442, "keyctl": 219, "add_key": 217, "request_key": 218}},
}
# Docker's masked and read-only paths of /proc, put back on an episode's own /proc mount.
PROC_MASKED = ("/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
               "/proc/sched_debug", "/proc/asound", "/proc/acpi", "/proc/scsi", "/proc/interrupts")
PROC_READ_ONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# --- the channel to the host -------------------------------------------------------------------------------------

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


# --- the kernel, through ctypes ------------------------------------------------------------------------------------

_LIBC = []


def libc():
    """The C library through ctypes (None where ctypes is missing; then nothing that needs it can start)."""
    if not _LIBC:
        try:
            import ctypes
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except (ImportError, OSError):
            _LIBC.append(None)
    return _LIBC[0]


def checked(result, what):
    if result != 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def make_undumpable():
    """No core dumps and no ptrace/``/proc/PID/mem`` access to us even from our own uid; True when it took."""
    lib = libc()
    return lib is not None and lib.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def unshare(flags):
    checked(libc().unshare(flags), "unshare")


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    checked(libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount %s" % target)


_CTYPES = {}


def ctypes_types():
    """The kernel structures we pass through ctypes, made once (every fork inherits them)."""
    if not _CTYPES:
        import ctypes

        class CapHeader(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class CapData(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]

        class Prog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        _CTYPES.update(ctypes=ctypes, CapHeader=CapHeader, CapData=CapData, Prog=Prog)
    return _CTYPES


def drop_capabilities(caps):
    """Remove ``caps`` (numbers) from our effective, permitted and inheritable sets, for good."""
    t = ctypes_types()
    header, data = t["CapHeader"](0x20080522, 0), (t["CapData"] * 2)()
    checked(libc().capget(t["ctypes"].byref(header), data), "capget")
    for cap in caps:
        word, bit = data[cap // 32], ~(1 << (cap % 32)) & 0xFFFFFFFF
        word.effective &= bit
        word.permitted &= bit
        word.inheritable &= bit
    checked(libc().capset(t["ctypes"].byref(header), data), "capset")


def seccomp_program(no_network):
    """The BPF program of :data:`SECCOMP_ARCHES` for this machine (with ``no_network``, ``socket()`` is refused for
    every family but AF_UNIX), as bytes of ``struct sock_filter``; None on an architecture we do not know."""
    arch = SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return None
    LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, EPERM, ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    code = []  # (op, jt label/offset, jf label/offset, k); labels are resolved below

    def op(kind, k, jt=0, jf=0):
        code.append([kind, jt, jf, k])

    op(LD, 4)  # seccomp_data.arch
    op(JEQ, arch["audit_arch"], 0, "deny")
    op(LD, 0)  # seccomp_data.nr
    if arch["x32_bit"] is not None:
        op(JGE, arch["x32_bit"], "deny", 0)
    for number in sorted(arch["deny"].values()):
        op(JEQ, number, "deny", 0)
    op(JEQ, arch["clone3"], "enosys", 0)
    op(JEQ, arch["clone"], "clone", 0)
    if no_network:
        op(JEQ, arch["socket"], "socket", 0)
    op(RET, ALLOW)
    labels = {}
    labels["deny"] = len(code)
    op(RET, EPERM)
    labels["enosys"] = len(code)
    op(RET, ENOSYS)
    labels["clone"] = len(code)  # (BPF jumps only forward: each branch ends in returns of its own)
    op(LD, 16)  # the low half of args[0]: clone's flags (every namespace flag is there)
    op(JSET, CLONE_NAMESPACES, 0, 1)
    op(RET, EPERM)
    op(RET, ALLOW)
    labels["socket"] = len(code)
    op(LD, 16)  # socket's family
    op(JEQ, AF_UNIX, 1, 0)
    op(RET, EPERM)
    op(RET, ALLOW)
    out = b""
    for index, (kind, jt, jf, k) in enumerate(code):
        jt = labels[jt] - index - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - index - 1 if isinstance(jf, str) else jf
        out += struct.pack("=HBBI", kind, jt, jf, k)
    return out


SECCOMP_FILTERS = {}  # no_network -> the filter; made once, before the origin is forked


def install_seccomp(program):
    """Install a seccomp filter (bytes of ``struct sock_filter``) on this process; it holds for good."""
    t = ctypes_types()
    ctypes = t["ctypes"]
    buffer = ctypes.create_string_buffer(program)
    prog = t["Prog"](len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    checked(libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    checked(libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp")


def send_fds(sock, data, fds):
    import array
    return sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else [])


def recv_fds(sock, size, max_fds):
    import array
    fds = array.array("i")
    data, ancdata, _, _ = sock.recvmsg(size, socket.CMSG_LEN(max_fds * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    return data, list(fds)


def exit_code_of(status):
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def exit_code(returncode):
    return returncode if returncode >= 0 else 128 - returncode


def ns_inode(kind, pid="self"):
    try:
        return os.stat("/proc/%s/ns/%s" % (pid, kind)).st_ino
    except OSError:
        return None


# --- the container's own state (read by the executor) ----------------------------------------------------------

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


def episode_plan(options):
    """What every episode is made of, read from the container as the engine set it up: the size and owner of each
    writable file system (an episode gets new ones like them), the IPC limits the host had the engine set (a new
    IPC namespace starts from the kernel's defaults), whether mounts must be made private, the network choice."""
    mounts = []
    for path, flags in (("/work", MS_NOSUID | MS_NODEV), ("/tmp", MS_NOSUID | MS_NODEV),
                        ("/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC)):
        try:
            st, fs = os.stat(path), os.statvfs(path)
        except OSError:
            continue
        size_kib = max(64, fs.f_blocks * fs.f_frsize // 1024)
        data = "size=%dk,mode=1777,uid=%d,gid=%d" % (size_kib, st.st_uid, st.st_gid)  # as the engine was asked
        mounts.append([path, flags, data])
    sysctls = {}
    for name in options.get("ipc_sysctls") or ():
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path) as f:
                sysctls[path] = f.read().strip()
        except OSError:
            pass
    try:
        with open("/proc/self/mountinfo") as f:
            shared = any(" shared:" in line.split(" - ")[0] for line in f)
    except OSError:
        shared = True
    return {"mounts": mounts, "sysctls": sysctls, "network": options.get("episode_network", "fresh"),
            "private": shared}


# --- the origin: makes episodes, sees nothing else --------------------------------------------------------------

def origin_main(sock):
    """The origin's loop: for each message (the episode plan, and the socket the episode server will use), a new
    episode: the episode server, cloned straight into new namespaces (PID 1 there); its pid goes to the executor
    on that socket. Its end is reaped by the kernel (SIGCHLD ignored) and seen by the executor through a pidfd."""
    for fd in (0, 1, 2):  # never the host's channel: that is the executor's alone
        os.dup2(os.open(os.devnull, os.O_RDWR), fd)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves: episodes are made side by side
    # Episode servers and their programs are forks of us: with our objects out of the collector's reach, a fork
    # copies only the pages it really writes (a collection would touch every object, copying the whole heap)
    gc.collect()
    gc.freeze()
    while True:
        try:
            message, fds = recv_fds(sock, 1 << 20, 1)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)  # the executor is gone
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        plan = json.loads(message.decode("utf-8"))
        for source in plan.pop("public", ()):  # programs that ship with selfgym: no secret, compiled once here
            keep_compiled(source)
        episode_sock = socket.socket(fileno=fds[0])
        try:
            pid = clone_episode(plan)  # one process, born in its namespaces: no go-between to fork and end
        except OSError:
            pid = None
        if pid == 0:
            sock.close()
            episode_main(plan, episode_sock)
        if pid is None:  # the kernel or a seccomp profile refused clone with namespace flags: unshare, then fork
            try:
                pid = os.fork()
            except OSError:
                episode_sock.close()
                continue  # the executor sees the socket close without a greeting
            if pid == 0:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                enter_episode(plan, episode_sock)
        else:
            episode_sock.send(json.dumps({"server_pid": pid}).encode())
        episode_sock.close()


PUBLIC_CODE = {}  # source -> code object of public programs, inherited by every episode server
PUBLIC_CODE_MAX = 16


def keep_compiled(source):
    """The code of a public program, compiled once per process (and, in the origin, for every later episode)."""
    code = PUBLIC_CODE.get(source)
    if code is None:
        code = PUBLIC_CODE[source] = compile(source, "<string>", "exec")
        while len(PUBLIC_CODE) > PUBLIC_CODE_MAX:
            del PUBLIC_CODE[next(iter(PUBLIC_CODE))]
    return code


def namespace_flags(plan):
    return CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | (
        CLONE_NEWNET if plan["network"] == "fresh" else 0)


def clone_episode(plan):
    """``fork()`` into new namespaces at once (the ``clone`` system call with namespace flags): 0 in the child,
    its pid in the parent. Safe here: the origin has one thread and holds no lock, and the child only sets
    up its episode and forks (glibc's fork sets the thread ids it caches)."""
    arch = SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        raise OSError("no clone number for this machine")
    import ctypes
    SIGCHLD = 17
    pid = libc().syscall(arch["clone"], namespace_flags(plan) | SIGCHLD, 0, 0, 0, 0)
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return pid


def enter_episode(plan, sock):
    """Where ``clone`` with namespace flags is refused, in the origin's child: new namespaces, then the episode
    server forked into them; report its pid (as the container sees it) and exit. Never returns."""
    try:
        unshare(namespace_flags(plan))
        pid = os.fork()
    except Exception as exc:  # noqa: BLE001 - reported to the executor, which refuses the episode
        sock.send(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}).encode())
        os._exit(1)
    if pid == 0:
        episode_main(plan, sock)
    sock.send(json.dumps({"server_pid": pid}).encode())
    os._exit(0)


# --- the episode server: PID 1 of an episode ----------------------------------------------------------------------

def loopback_up():
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def read_only(path):
    mount(path, path, None, MS_BIND | MS_REC)
    mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def set_up_episode(plan):
    """Make this (new) mount, IPC and network namespace the episode's: fresh file systems, /proc, limits, loopback."""
    if plan["private"]:  # nothing we mount may reach the container's namespace (the engine made it private)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
    for path, flags, data in plan["mounts"]:
        mount("tmpfs", path, "tmpfs", flags, data)
    if os.path.isdir("/dev/mqueue"):
        mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path, value in plan["sysctls"].items():  # this IPC namespace's, while /proc/sys is still writable
        with open(path, "w") as f:
            f.write(value)
    for path in PROC_MASKED:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555")
        elif os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)
    for path in PROC_READ_ONLY:
        if os.path.exists(path):
            read_only(path)
    if os.path.isdir("/sys/fs/cgroup"):  # the container's counters (peak memory, OOM and pids events) span episodes
        mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555")
    if plan["network"] == "fresh":
        loopback_up()
    drop_capabilities((CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_NICE))
    make_undumpable()
    os.chdir(WORK_DIR)


def episode_main(plan, sock):
    """The episode server (see the module docstring): set up, greet, then start programs until the socket closes.
    Never returns."""
    try:
        for fd in (0, 1, 2):
            os.dup2(os.open(os.devnull, os.O_RDWR), fd)
        os.setsid()
        set_up_episode(plan)
        fresh = {kind: ns_inode(kind) for kind in ("pid", "net", "ipc", "mnt", "uts")}
        empty = all(not os.listdir(path) for path, _, _ in plan["mounts"])
        sock.send(json.dumps({"ready": True, "pid": os.getpid(), "namespaces": fresh, "empty": empty}).encode())
    except Exception as exc:  # noqa: BLE001 - reported to the executor, which refuses the episode
        try:
            sock.send(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}).encode())
        finally:
            os._exit(1)
    try:
        serve_episode(sock)
    finally:
        os._exit(0)


def serve_episode(sock):
    """The episode server's loop: requests (spawn, killall, status) and the exits of its children. As its
    namespace's init, it inherits every orphan and reaps them all."""
    import builtins

    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    children = set()

    def reap():
        """Reap exited processes; report our children's ends. False when no process is left but us."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid in children:
                children.discard(pid)
                sock.sendall(json.dumps({"exited": pid, "code": exit_code_of(status)}).encode())

    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wakeup_r, selectors.EVENT_READ)
    while True:
        ready = [key.fileobj for key, _ in selector.select()]
        if wakeup_r in ready:
            os.read(wakeup_r, 4096)
        reap()
        if sock not in ready:
            continue
        message, fds = recv_fds(sock, 8 * 1024 * 1024, 16)
        if not message:
            os._exit(0)  # the executor is gone
        request = json.loads(message.decode("utf-8"))
        if request.get("op") == "killall":
            deadline = time.monotonic() + EPISODE_END_S
            alive = True
            while alive and time.monotonic() < deadline:
                try:
                    os.kill(-1, signal.SIGKILL)  # as a namespace's init: every process of the episode but us
                except ProcessLookupError:
                    pass
                alive = reap()
                if alive and select.select([wakeup_r], [], [], 0.01)[0]:  # woken by the next SIGCHLD
                    os.read(wakeup_r, 4096)
            sock.sendall(json.dumps({"killed": not alive}).encode())
            continue
        if request.get("op") == "status":
            sock.sendall(json.dumps({"status": {"disk_full": disk_full()}}).encode())
            continue
        try:  # spawn
            code = keep_compiled(request["public_code"]) if request.get("public_code") is not None else None
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001 - a program that does not compile, no pids left
            for fd in fds:
                os.close(fd)
            sock.sendall(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc),
                                     "pids": isinstance(exc, BlockingIOError)}).encode())
            continue
        if pid == 0:
            run_child(request, code, fds, [sock.fileno(), wakeup_r, wakeup_w],
                      SECCOMP_FILTERS[bool(request.get("no_network"))], builtins)
        for fd in fds:
            os.close(fd)
        children.add(pid)
        sock.sendall(json.dumps({"spawned": pid}).encode())


def disk_full():
    for path in (WORK_DIR, "/tmp"):
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        if st.f_blocks and st.f_bavail * st.f_frsize < 64 * 1024:
            return True
    return False


def run_child(request, code, fds, ours, seccomp, builtins):
    """In the episode server's child: read the rest of the request from our own socket (fds[3]), take the program's
    file descriptors, limits and uid, then run it (``exec`` a command, or the Python code here); never returns."""
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
        uid = request["uid"]
        try:
            with open("/proc/self/oom_score_adj", "w") as f:  # the agent's processes go first, never ours
                f.write("1000" if uid == AGENT_UID else "0")
        except OSError:
            pass
        if seccomp is None:
            raise OSError("no seccomp filter for this architecture (%s)" % os.uname().machine)
        install_seccomp(seccomp)
        if uid != ROOT_UID:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)  # from root to a non-zero uid: every capability goes, and no-new-privileges keeps it so
        if uid == AGENT_UID:  # as a new process of the agent's would be (the uid change had unset it)
            libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        try:
            os.chdir(private["cwd"])
        except OSError as exc:
            os.write(2, ("selfgym sandbox: cannot enter %r: %s\n" % (private["cwd"], exc.strerror)).encode())
            os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
        if code is None and private.get("argv") is not None:
            argv = private["argv"]
            try:
                os.execvpe(argv[0], argv, private["env"])
            except OSError as exc:
                os.write(2, ("selfgym sandbox: cannot start %r: %s\n" % (argv[0], exc.strerror)).encode())
                os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
        gc.unfreeze()  # the program's own garbage is collected as in any interpreter
        os.environ.clear()
        os.environ.update(private["env"])
        sys.argv = ["-c"]
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        try:
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
    except BaseException as exc:  # noqa: BLE001 - the setup failed: say so where the program's errors go
        try:
            os.write(2, ("selfgym sandbox: cannot start the program: %s\n" % exc).encode())
        except OSError:
            pass
        status = 126
    finally:
        os._exit(status & 0xFF if status >= 0 else 1)


# --- the executor's side of an episode ----------------------------------------------------------------------------

class EpisodeError(Exception):
    """An episode could not be made, or its server broke."""


SPARE_NICE = 19  # spares are made at the lowest priority, so a request running now keeps the container's CPU


def can_restore_priority():
    """Whether an episode made at :data:`SPARE_NICE` can be given normal priority back when it starts serving:
    raising a process's priority takes ``CAP_SYS_NICE`` (which the executor alone keeps)."""
    with open("/proc/self/status") as f:
        effective = next((int(line.split()[1], 16) for line in f if line.startswith("CapEff:")), 0)
    return bool(effective >> CAP_SYS_NICE & 1)


class Episode:
    """An episode server, seen from the executor: its pid (in the container's namespace), its socket, and the exit
    codes of the programs it started."""

    def __init__(self, origin_sock, plan, public=(), low_priority=False):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end in (self.sock, theirs):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024 * 1024)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        try:
            send_fds(origin_sock, json.dumps(dict(plan, public=list(public))).encode("utf-8"), [theirs.fileno()])
        finally:
            theirs.close()
        self.pid = None
        self.pidfd = None
        self.greeting = None
        self.exits = {}
        self.alive = True
        self.fresh_network = plan["network"] == "fresh"
        self.plan_network = plan["network"]
        self.low_priority = low_priority  # made at SPARE_NICE: normal priority once it is needed

    def _receive(self, block):
        """One message (None if none is waiting and not ``block``); EpisodeError when the server is gone."""
        self.sock.setblocking(block)
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self.alive = False
            raise EpisodeError("the episode server is gone")
        message = json.loads(data.decode("utf-8"))
        if "exited" in message:
            self.exits[message["exited"]] = message["code"]
        elif "server_pid" in message:
            self.pid = message["server_pid"]
        return message

    def wait_ready(self, deadline_s=EPISODE_START_S):
        """Block until the server greeted (and its pid is known); check that its episode is fresh."""
        self.sock.settimeout(deadline_s)
        try:
            while self.greeting is None or self.pid is None:
                if self.low_priority and self.pid is not None:
                    self.restore_priority()  # needed now: it must not finish its set-up at the lowest priority
                message = self._receive(True)
                if "error" in message:
                    raise EpisodeError(message["error"])
                if message.get("ready"):
                    self.greeting = message
        except (socket.timeout, EpisodeError) as exc:
            self.kill()
            raise EpisodeError("a new episode did not start: %s" % (exc or "timed out"))
        finally:
            if self.alive:
                self.sock.settimeout(None)
        kinds = ("pid", "ipc", "mnt", "uts") + (("net",) if self.fresh_network else ())
        ours = {kind: ns_inode(kind) for kind in kinds}
        theirs = self.greeting["namespaces"]
        stale = [kind for kind in ours if ours[kind] is None or theirs.get(kind) in (None, ours[kind])]
        if self.greeting.get("pid") != 1 or stale or not self.greeting.get("empty"):
            self.kill()
            raise EpisodeError("a new episode is not fresh (pid %r, namespaces shared: %s, scratch empty: %r)"
                               % (self.greeting.get("pid"), stale, self.greeting.get("empty")))
        if hasattr(os, "pidfd_open"):  # a handle on this very process, whoever reaps it and reuses its pid later
            self.pidfd = os.pidfd_open(self.pid)
        if self.low_priority:
            self.restore_priority()
        return self

    def restore_priority(self):
        """Normal priority for the server, and so for every program it starts from now on."""
        os.setpriority(os.PRIO_PROCESS, self.pid, 0)
        self.low_priority = False

    def drain(self):
        while self.alive and self._receive(False) is not None:
            pass

    def request(self, message, fds=()):
        """Send a request and return its answer (exit reports that come in between are kept)."""
        try:
            send_fds(self.sock, json.dumps(message).encode("utf-8"), list(fds))
        except OSError as exc:
            self.alive = False
            raise EpisodeError("the episode server is gone (%s)" % exc.strerror)
        while True:
            reply = self._receive(True)
            if "exited" not in reply:
                return reply

    def killall(self):
        """Kill every process of the episode but its server; True when none is left."""
        return self.request({"op": "killall"}).get("killed") is True

    def kill(self):
        """End the episode: its server dies, and with it (the kernel sees to it) every process of its namespace."""
        self.alive = False
        try:
            if self.pidfd is not None:  # this very process, even if its pid were someone else's by now
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            elif self.pid is not None:
                os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.sock.close()

    def gone(self):
        """After :meth:`kill`: True once the server has exited, which the kernel lets it do only after every other
        process of its namespace is gone."""
        if self.pidfd is None:
            return self.pid is None or not os.path.exists("/proc/%d/ns" % self.pid)
        if not select.select([self.pidfd], [], [], 0)[0]:
            return False
        os.close(self.pidfd)
        self.pidfd = None
        self.pid = None
        return True

    def spawn(self, program, uid, stdin, stdout, stderr, cwd, env, pass_fds=(), no_network=False):
        """Start ``program`` as ``uid`` in this episode. Only a public program's code (one that ships with selfgym)
        passes through the server, which keeps it compiled; any other code, the argv, the cwd and the environment
        go to the child straight from us through a socket of its own."""
        ends = [child_end(stdin, True), child_end(stdout, False), child_end(stderr, False)]
        ours, childs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds = [end[0] for end in ends] + [childs.fileno()] + list(pass_fds)
        public = program.get("public") and program.get("code") is not None
        if public:
            EPISODES.saw_public(program["code"])
        request = {"op": "spawn", "uid": uid, "no_network": no_network or self.plan_network == "none",
                   "public_code": program["code"] if public else None}
        try:
            reply = self.request(request, fds)
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
            raise (BlockingIOError if reply.get("pids") else OSError)(reply["error"])
        private = {"code": None if public else program.get("code"), "argv": program.get("argv"), "cwd": cwd,
                   "env": env}
        try:
            ours.settimeout(10.0)
            ours.sendall(json.dumps(private).encode("utf-8"))
        except OSError:
            pass  # it died before reading: it exits as it would have
        finally:
            ours.close()
        return Program(reply["spawned"], self, *(end[1] for end in ends))


def child_end(spec, for_reading):
    """(the child's fd, our file object or None, whether we made the fd): ``"pipe"``, ``"null"`` or an fd."""
    if spec == "pipe":
        read_end, write_end = os.pipe()
        if for_reading:
            return read_end, os.fdopen(write_end, "wb", buffering=0), True
        return write_end, os.fdopen(read_end, "rb", buffering=0), True
    if spec == "null":
        return os.open(os.devnull, os.O_RDWR), None, True
    return spec, None, False


class Program:
    """A program running in an episode: ``pid`` (in the episode's namespace), its pipes, ``poll()``, ``wait()``."""

    def __init__(self, pid, episode, stdin, stdout, stderr):
        self.pid, self.episode = pid, episode
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                self.episode.drain()
            except EpisodeError:
                pass
            self.returncode = self.episode.exits.pop(self.pid, None)
            if self.returncode is None and not self.episode.alive:
                self.returncode = -signal.SIGKILL  # its episode died with it
        return self.returncode

    def wait(self):
        while self.poll() is None:
            try:
                self.episode._receive(True)
            except EpisodeError:
                pass
        return self.returncode


class Episodes:
    """The executor's episodes: the one programs run in now, spares made ahead of time for the next resets, and
    ended ones until their end is confirmed."""

    SPARES = 2  # made side by side: a namespace's setup waits on the kernel more than it computes

    def __init__(self, options):
        self.plan = episode_plan(options)
        self.low_priority = can_restore_priority()
        self.origin_sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.origin_pid = os.fork()
        if self.origin_pid == 0:
            self.origin_sock.close()
            if self.low_priority:  # inherited by every episode server it makes
                os.setpriority(os.PRIO_PROCESS, 0, SPARE_NICE)
            drop_capabilities((CAP_SYS_NICE,))
            try:
                origin_main(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.current = None
        self.spares = []
        self.ending = []  # (episode, deadline): killed, not yet confirmed gone
        self.made = 0
        self.public_seen = {}  # public programs run so far (the origin keeps them compiled)
        self.public_new = []  # ...not yet handed to the origin

    def _new(self):
        self.made += 1
        public, self.public_new = self.public_new, []
        return Episode(self.origin_sock, self.plan, public, self.low_priority)

    def saw_public(self, source):
        """A public program was run: the origin compiles it, so later episodes start with it compiled."""
        if source not in self.public_seen:
            self.public_seen[source] = True
            self.public_new.append(source)
            while len(self.public_seen) > PUBLIC_CODE_MAX:
                del self.public_seen[next(iter(self.public_seen))]

    def start(self):
        """The first episode, and spares behind it."""
        self.current = self._new().wait_ready()
        self.spares = [self._new() for _ in range(self.SPARES)]

    def check_ended(self):
        """Confirm the end of the episodes killed before; EpisodeError if one outlived its deadline (a process of
        it would not die: this container is not clean any more)."""
        still = []
        for episode, deadline in self.ending:
            if episode.gone():
                continue
            if time.monotonic() > deadline:
                raise EpisodeError("an ended episode's processes did not die within %.0f s" % EPISODE_END_S)
            still.append((episode, deadline))
        self.ending = still

    def renew(self):
        """End the current episode and start a spare (verified fresh); have the next spare made.

        The old episode's first process is killed, and with it every process of its namespace; that end is
        confirmed off the hot path (:meth:`check_ended`, before every later request): nothing of the old
        episode can reach the new one meanwhile (no shared namespace, file system or process), it only still
        holds memory and pids for the few milliseconds it takes the kernel to tear it down."""
        old, self.current = self.current, None
        if old is not None:
            old.kill()
            self.ending.append((old, time.monotonic() + EPISODE_END_S))
        self.check_ended()
        while self.current is None:  # a spare made while the old episode held every pid may have failed
            candidate, fresh = (self.spares.pop(0), False) if self.spares else (self._new(), True)
            try:
                self.current = candidate.wait_ready()
            except EpisodeError:
                if fresh:  # one made just now failed too: this container cannot make episodes
                    raise
        while len(self.spares) < self.SPARES:
            self.spares.append(self._new())

    def close(self):
        for episode in [self.current] + self.spares:
            if episode is not None:
                episode.kill()
        self.origin_sock.close()


EPISODES = None


def reap_orphans():
    """Reap our exited children: episode servers, whose parent we became when the origin's children exited."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --- requests -------------------------------------------------------------------------------------------------------

def user_of(req):
    user = req.get("user") or "agent"
    if user not in USERS:
        raise ValueError("unknown user %r (expected one of %s)" % (user, ", ".join(sorted(USERS))))
    return USERS[user]


def command_env(req):
    env = dict(os.environ)
    env.update(req.get("env") or {})
    return env


def program_of(req):
    """What a request runs: ``argv`` (a command) or ``code`` (a Python program run in a warm interpreter)."""
    if req.get("code") is not None:
        return {"code": str(req["code"]), "public": bool(req.get("public"))}
    argv = [str(arg) for arg in req["argv"]]
    if not argv:
        raise ValueError("an empty argv")
    return {"argv": argv}


def cannot_start(what, exc, started, pids_before):
    return {
        "ok": True, "exit_code": 126, "stdout": "",
        "stderr": b64(("selfgym sandbox: cannot start %r: %s\n" % (what, exc)).encode()),
        "duration_s": time.monotonic() - started, "timed_out": False, "oom_killed": False,
        "truncated": False, "disk_full": False,
        "pids_limited": isinstance(exc, BlockingIOError) or increased(pids_before, counters()[1]),
    }


def op_run(req, uid=None):
    """Run ``argv`` (or ``code``) as ``user`` in the current episode and wait for it; with ``subject``, also run
    the subject as the agent, wired to it.

    A subject (``{"argv": [...]}`` or ``{"code": ...}``, and ``"env"``) is the agent's side of a judged run: it
    starts first, as the agent's uid and without any network (not even loopback sockets), its stdin and stdout
    connected by pipes to the main command (a verifier), which finds their file descriptors in
    ``$SELFGYM_SUBJECT_FDS`` ("3,4"). The subject's stderr is kept (capped); its exit code is reported when it ended
    before the main command did.
    """
    episode = EPISODES.current
    program = program_of(req)
    what = (program.get("argv") or ["python3"])[0]
    uid = user_of(req) if uid is None else uid
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
                subject = episode.spawn(program_of(spec), AGENT_UID, to_subject_r, from_subject_w, "pipe", cwd,
                                        command_env(spec), no_network=True)
            finally:
                os.close(to_subject_r)
                os.close(from_subject_w)
            pass_fds = (from_subject_r, to_subject_w)
            env["SELFGYM_SUBJECT_FDS"] = "3,4"  # the passed descriptors' numbers in the program
        try:
            proc = episode.spawn(program, uid, "pipe" if stdin_data is not None else "null", "pipe", "pipe", cwd,
                                 env, pass_fds)
        finally:
            for fd in pass_fds:
                os.close(fd)
    except OSError as exc:  # no pids left, a program that does not compile
        if subject is not None:
            episode.killall()
        return cannot_start(what, exc, started, pids_before)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    sel.register(episode.sock, selectors.EVENT_READ, "exit")  # the server reports the program's end there
    if subject is not None:
        sel.register(subject.stderr, selectors.EVENT_READ, subject_err)
    pending_stdin = memoryview(stdin_data) if stdin_data is not None else None
    if pending_stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if pending_stdin:
            sel.register(proc.stdin, selectors.EVENT_WRITE, None)
        else:
            proc.stdin.close()
    deadline = started + timeout
    drain_deadline = None
    timed_out = False
    returncode = None
    while True:
        now = time.monotonic()
        if subject is not None and subject.returncode is None:
            subject.poll()
        if returncode is None:
            returncode = proc.poll()
            if returncode is not None:
                drain_deadline = now + DRAIN_AFTER_EXIT_S
                sel.unregister(episode.sock)
        readers = [k for k in sel.get_map().values() if k.data in (out, err)]
        if returncode is not None and (not readers or now >= drain_deadline):
            break
        if returncode is None and now >= deadline:
            timed_out = True
            episode.killall()  # the whole tree, wherever it went (setsid, double fork), and the rest of the episode
            returncode = proc.wait()
            sel.unregister(episode.sock)
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
                except OSError:
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
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        if key.fileobj is not episode.sock:
            key.fileobj.close()
    sel.close()
    subject_code = subject.poll() if subject is not None else None
    oom_after, pids_after = counters()
    pids_limited = increased(pids_before, pids_after)
    if not req.get("keep_background") or pids_limited or subject is not None:
        episode.killall()  # nothing outlives its command: no stray writer, no fork bomb left running
    reply = {
        "ok": True,
        "exit_code": exit_code(returncode),
        "stdout": b64(out.value()),
        "stderr": b64(err.value()),
        "duration_s": time.monotonic() - started,
        "timed_out": timed_out,
        "oom_killed": increased(oom_before, oom_after),
        "truncated": out.truncated or err.truncated,
        "disk_full": bool(episode.request({"op": "status"}).get("status", {}).get("disk_full")),
        "pids_limited": pids_limited,
    }
    if subject is not None:
        reply["subject"] = {"exit_code": None if subject_code is None else exit_code(subject_code),
                            "stderr": b64(subject_err.value())}
    return reply


# --- the executor's own programs: files, snapshots ----------------------------------------------------------------

WRITE_FILES = r'''
import base64, json, os, sys
try:
    for path, spec in json.load(sys.stdin).items():
        full = os.path.normpath(os.path.join("/work", path))
        parent = os.path.dirname(full)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(full, "wb") as f:
            f.write(base64.b64decode(spec["data"]))
        if spec.get("mode") is not None:
            os.chmod(full, int(spec["mode"]))
except Exception as exc:
    sys.stderr.write("%s: %s" % (type(exc).__name__, exc))
    sys.exit(1)
'''

READ_FILE = r'''
import json, os, sys
request = json.load(sys.stdin)
try:
    with open(os.path.normpath(os.path.join("/work", request["path"])), "rb") as f:
        data = f.read(request["limit"] + 1)
except Exception as exc:
    sys.stderr.write("%s: %s" % (type(exc).__name__, exc))
    sys.exit(1)
sys.stdout.buffer.write(data)
'''

# An archive of the episode's writable places, taken as root without following any link: one JSON header line per
# entry (path, type, mode, owner, size), then its bytes. Files are opened with O_NOFOLLOW and checked to be the
# entry that was listed, so that nothing the agent swaps in while it runs is read with root's rights.
SNAPSHOT = r'''
import json, os, stat, sys
ROOTS, LIMIT = ("/work", "/tmp", "/dev/shm"), json.load(sys.stdin)["limit"]
out = sys.stdout.buffer
total = 0
def emit(header, data=b""):
    out.write(json.dumps(header).encode() + b"\n")
    out.write(data)
for root in ROOTS:
    if not os.path.isdir(root):
        continue
    emit({"path": root, "type": "root", "mode": stat.S_IMODE(os.lstat(root).st_mode)})
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            header = {"path": path, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISDIR(st.st_mode):
                emit(dict(header, type="dir"))
            elif stat.S_ISLNK(st.st_mode):
                emit(dict(header, type="link", target=os.readlink(path)))
            elif stat.S_ISREG(st.st_mode):
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                except OSError:
                    continue
                with os.fdopen(fd, "rb") as f:
                    now = os.fstat(f.fileno())
                    if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev):
                        continue
                    data = f.read()
                total += len(data)
                if total > LIMIT:
                    sys.stderr.write("the files are larger than %d bytes" % LIMIT)
                    sys.exit(3)
                emit(dict(header, type="file", size=len(data)), data)
'''

# The other way round, into this (fresh) episode: every entry is created relative to a directory opened without
# following links, so a link in the archive can never redirect a later entry; owners are the agent's or the
# verifier's, modes lose set-id bits.
RESTORE = r'''
import json, os, stat, sys
OWNERS = (1000, 1001)
data = sys.stdin.buffer
SCRATCH = (["work"], ["tmp"], ["dev", "shm"])
def parent_fd(path):
    parts = [p for p in path.split("/") if p]
    if ".." in parts or not any(parts[:len(root)] == root and len(parts) > len(root) for root in SCRATCH):
        raise ValueError("a path outside the scratch directories: %r" % path)
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    for part in parts[:-1]:
        try:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd, parts[-1]
while True:
    line = data.readline()
    if not line:
        break
    entry = json.loads(line)
    mode = entry["mode"] & 0o1777
    owner = entry.get("uid") if entry.get("uid") in OWNERS else 1000
    group = entry.get("gid") if entry.get("gid") in OWNERS else owner
    if entry["type"] == "root":
        if entry["path"] in ("/work", "/tmp", "/dev/shm"):
            os.chmod(entry["path"], mode)
        continue
    fd, name = parent_fd(entry["path"])
    try:
        if entry["type"] == "dir":
            os.mkdir(name, 0o700, dir_fd=fd)
        elif entry["type"] == "link":
            os.symlink(entry["target"], name, dir_fd=fd)
        elif entry["type"] == "file":
            body = data.read(entry["size"])
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
            with os.fdopen(out, "wb") as f:
                f.write(body)
        os.chown(name, owner, group, dir_fd=fd, follow_symlinks=False)
        if entry["type"] != "link":
            os.chmod(name, mode, dir_fd=fd)
    finally:
        os.close(fd)
'''


def run_internal(code, uid, stdin_data, max_out):
    """Run one of the executor's own Python programs (public: they ship with selfgym) in the current episode,
    keeping the episode's background processes. Returns (exit code, stdout, stderr, whether stdout overflowed
    ``max_out`` bytes) or an error reply."""
    reply = op_run({"code": code, "public": True, "stdin": b64(stdin_data), "timeout": INTERNAL_TIMEOUT_S,
                    "max_output": max_out, "keep_background": True}, uid=uid)
    if reply.get("exit_code", 0) != 0 or reply.get("truncated"):
        error = base64.b64decode(reply["stderr"]).decode("utf-8", "replace")[-1000:]
        if reply.get("truncated") and not error:
            error = "the answer was larger than %d bytes" % max_out
        return {"ok": False, "error": error or "exit %d" % reply["exit_code"]}
    return base64.b64decode(reply["stdout"])


def op_write(req):
    payload = {path: {"data": spec["data"], "mode": spec.get("mode")} for path, spec in req["files"].items()}
    done = run_internal(WRITE_FILES, user_of(req), json.dumps(payload).encode(), 4096)
    return done if isinstance(done, dict) else {"ok": True}


def op_read(req):
    limit = int(req.get("max_bytes", 64 * 1024 * 1024))
    data = run_internal(READ_FILE, user_of(req), json.dumps({"path": req["path"], "limit": limit}).encode(), limit + 1)
    if isinstance(data, dict):
        return data
    if len(data) > limit:
        return {"ok": False, "error": "%s is larger than %d bytes" % (req["path"], limit)}
    return {"ok": True, "data": b64(data)}


def op_snapshot(req):
    limit = int(req.get("max_bytes", 256 * 1024 * 1024))
    data = run_internal(SNAPSHOT, ROOT_UID, json.dumps({"limit": limit}).encode(), 2 * limit + (16 << 20))
    return data if isinstance(data, dict) else {"ok": True, "data": b64(data)}


def op_restore(req):
    done = run_internal(RESTORE, ROOT_UID, base64.b64decode(req["data"]), 4096)
    return done if isinstance(done, dict) else {"ok": True}


def op_reset(req):
    try:
        EPISODES.renew()
    except EpisodeError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True}


def op_ping(req):
    episode = EPISODES.current
    return {"ok": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0],
            "episode_server": episode.pid, "episodes": EPISODES.made, "spares": len(EPISODES.spares),
            "network": EPISODES.plan["network"]}


OPS = {"run": op_run, "write": op_write, "read": op_read, "reset": op_reset, "snapshot": op_snapshot,
       "restore": op_restore, "ping": op_ping}


def main():
    global EPISODES
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir("/")
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    undumpable = make_undumpable()  # inherited by the origin, forked now: before any request came
    hello = {"ok": True, "ready": True, "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "uid": os.getuid(),
             "undumpable": undumpable, "agent_uid": AGENT_UID, "verifier_uid": VERIFIER_UID}
    try:
        if libc() is None:
            raise EpisodeError("the image's python3 has no ctypes")
        SECCOMP_FILTERS.update({flag: seccomp_program(flag) for flag in (False, True)})
        if SECCOMP_FILTERS[False] is None:
            raise EpisodeError("no seccomp filter is known for this machine (%s)" % os.uname().machine)
        ctypes_types()
        EPISODES = Episodes(options)
        EPISODES.start()
        # the origin keeps what episodes need; we keep only what gives a spare its priority back
        drop_capabilities([cap for cap in range(41) if cap != CAP_SYS_NICE or not EPISODES.low_priority])
    except (EpisodeError, OSError) as exc:
        hello["episode_error"] = "%s: %s" % (type(exc).__name__, exc)
    signal.signal(signal.SIGTERM, lambda *_: (EPISODES and EPISODES.close(), os._exit(0)))
    write_message(hello)
    if EPISODES is None or EPISODES.current is None:
        return
    while True:
        try:
            req = read_message()
        except (ValueError, UnicodeDecodeError) as exc:
            write_message({"ok": False, "error": "bad request: %s" % exc})
            continue
        if req is None:  # the host is gone: end every episode and let the container exit
            EPISODES.close()
            return
        op = OPS.get(req.get("op"))
        try:
            EPISODES.check_ended()
            reply = op(req) if op else {"ok": False, "error": "unknown op %r" % req.get("op")}
        except EpisodeError as exc:  # the episode's server broke: this sandbox cannot go on
            reply = {"ok": False, "error": "its episode broke: %s" % exc, "lost": True}
        except Exception as exc:  # a bad path or a full disk must not kill PID 1
            reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        reply["id"] = req.get("id")
        write_message(reply)
        reap_orphans()


if __name__ == "__main__":
    main()
