"""Child processes that judge answers under a deadline, from any thread, on every core.

math-verify's timeout is ``signal.alarm``: it works only on the main thread of the main interpreter, and no
signal interrupts sympy while it is inside C code (``10**10**10`` as a big integer). Envs run on worker threads
(eval, GRPO, rollouts), in vector-env subprocesses (daemonic, so ``multiprocessing`` children are not allowed) and
in the main thread. So the slow judgements run in plain ``subprocess`` workers (:mod:`.worker`) that keep sympy,
the parsed gold answers and reasoning-gym's datasets warm between calls. A worker stops itself at the deadline
when it can (an interval timer); past the deadline and a grace period this side kills it, and the next call on
that worker starts a new one.

A :class:`VerifierProcess` serves one request at a time. A :class:`VerifierPool` holds up to ``size`` of them
(default: the CPUs this process may run on) and hands each request to an idle one, so concurrent requests are
judged in parallel; workers start only when that many requests are in flight at once, so a caller that judges
one answer at a time keeps one worker. A request names a cache ``key`` (its gold answer or task): an idle worker
that served the key before, and so has it parsed or built, is preferred, else the key's home worker (by a hash
of the key), so that a gold answer asked about from many threads is parsed once, not once per worker.

The pipes are watched with :mod:`selectors` (epoll/poll), not ``select.select()``, so a process holding more than
1,024 open files (a server with thousands of sockets) can still judge. A worker that stops answering, whose pipe
stops taking requests, or whose exchange fails in any way is killed and replaced on the next call: a half-done
exchange never leaves a stale reply in the pipe for the next request to read.

The protocol is one JSON object per line each way. Forked children (``AsyncVectorEnv`` workers) forget the
parent's workers and start their own on first use: they never write to the parent's pipes.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

KILL_GRACE_S = 2.0  # beyond the request's own deadline, before the worker is killed
STARTUP_TIMEOUT_S = 120.0  # importing sympy, math-verify and reasoning-gym on a loaded machine
PREPARE_TIMEOUT_S = 300.0  # trusted work before a judgement: building a reasoning-gym dataset (cached)
MAX_REPLY_BYTES = 1 << 20  # a reply is a small JSON object; anything longer means a broken worker
REMEMBERED_KEYS = 8_192  # per worker: which gold answers and tasks it has warm (its own caches hold as many)
PROCESSES_VARIABLE = "SELFGYM_VERIFIER_PROCESSES"


class VerifierError(RuntimeError):
    """The verifier worker failed (it crashed, or could not start)."""


class VerificationTimeout(TimeoutError):
    """A judgement ran past its deadline."""


def available_cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class VerifierProcess:
    """A worker process for slow judgements; started on first use, replaced when it is killed or dies."""

    def __init__(self, startup_timeout_s: float = STARTUP_TIMEOUT_S,
                 prepare_timeout_s: float = PREPARE_TIMEOUT_S) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.prepare_timeout_s = prepare_timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._buffer = b""
        self._replies: selectors.BaseSelector | None = None  # watches the worker's stdout (one per worker: cheap calls)
        self._known: OrderedDict[str, None] = OrderedDict()  # cache keys this worker has warm
        self.generation = 0  # bumped at every (re)start: what the worker had cached is gone
        _live.add(self)

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for its reply: the worker prepares (trusted work: gold parsing, dataset
        building), says it started, then judges within ``timeout_s`` (+ a grace period before it is killed).

        Raises :class:`VerificationTimeout` past the deadline (the worker is then replaced) and
        :class:`VerifierError` if the worker dies or answers with an error.
        """
        with self._lock:
            self._ensure_started()
            try:
                self._write(json.dumps({**request, "timeout_s": timeout_s}).encode() + b"\n",
                            time.monotonic() + self.prepare_timeout_s)
                reply = self._read_reply(time.monotonic() + self.prepare_timeout_s)
                if reply.get("started"):
                    reply = self._read_reply(time.monotonic() + timeout_s + KILL_GRACE_S)
            except BaseException:
                # whatever broke the exchange (a dead pipe, an interrupt, a bug here), the worker may still owe a
                # reply to this request: a new worker, never a stale answer for the next request
                self._stop()
                raise
        if reply.get("timeout"):
            raise VerificationTimeout(f"judgement took longer than {timeout_s:g} s")
        if "error" in reply:
            raise VerifierError(reply["error"])
        return reply

    @property
    def pid(self) -> int | None:
        """The worker's process id while one runs."""
        return self._process.pid if self._process is not None else None

    def knows(self, key: str) -> bool:
        """Whether the running worker has served ``key`` (so has its gold answer parsed, its dataset built)."""
        return key in self._known

    def remember(self, key: str) -> None:
        """Note that the running worker has served ``key`` (the oldest of more than ``REMEMBERED_KEYS`` go)."""
        self._known[key] = None
        self._known.move_to_end(key)
        if len(self._known) > REMEMBERED_KEYS:
            self._known.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            self._stop()

    # --- internals (called with the lock held) -----------------------------------------------------------------
    def _ensure_started(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        package_root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self._process = subprocess.Popen(
            # -P: not the working directory first on sys.path, so the worker runs this package, not a selfgym/
            # folder that happens to be where the caller runs
            [sys.executable, "-P", "-m", "selfgym.envs.math.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=env, start_new_session=True,  # Ctrl-C in a terminal goes to the env, which then stops the worker
        )
        self._buffer = b""
        self._replies = selectors.DefaultSelector()  # epoll: any descriptor number, unlike select.select()
        self._replies.register(self._process.stdout.fileno(), selectors.EVENT_READ)
        self.generation += 1
        os.set_blocking(self._process.stdin.fileno(), False)  # writes are bounded by a deadline (see _write)
        try:
            hello = self._read_reply(time.monotonic() + self.startup_timeout_s, starting=True)
        except BaseException:
            self._stop()
            raise
        if not hello.get("ready"):
            self._stop()
            raise VerifierError(f"unexpected greeting from the verifier process: {hello!r}")
        return self._process

    def _write(self, data: bytes, deadline: float) -> None:
        """Send ``data`` by ``deadline``: a worker that stops reading its requests is killed, not waited for."""
        stream = self._process.stdin.fileno()
        view = memoryview(data)
        try:  # the pipe has room nearly always: no selector then
            view = view[os.write(stream, view):]
        except BlockingIOError:
            pass
        except OSError:
            self._stop()
            raise VerifierError("the verifier process died") from None
        if not view:
            return
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_WRITE)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._stop()
                    raise VerifierError("the verifier process stopped reading its requests")
                if not selector.select(remaining):
                    continue
                try:
                    written = os.write(stream, view)
                except BlockingIOError:
                    continue
                except OSError:
                    self._stop()
                    raise VerifierError("the verifier process died") from None
                view = view[written:]

    def _read_reply(self, deadline: float, starting: bool = False) -> dict[str, Any]:
        return self._read_line(self._process.stdout.fileno(), self._replies, deadline, starting)

    def _read_line(self, stream: int, selector: selectors.BaseSelector, deadline: float,
                   starting: bool) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop()
                if starting:
                    raise VerifierError("the verifier process did not start in time")
                return {"timeout": True}  # past the deadline: the worker is stuck where no timer reaches
            if len(self._buffer) > MAX_REPLY_BYTES:
                self._stop()
                raise VerifierError("the verifier process sent an oversized reply")
            if selector.select(remaining):
                chunk = os.read(stream, 65536)
                if not chunk:
                    code = self._process.poll()
                    self._stop()
                    raise VerifierError(f"the verifier process exited (code {code})")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            self._stop()
            raise VerifierError("the verifier process sent a malformed reply") from None

    def _stop(self) -> None:
        process, self._process = self._process, None
        self._known.clear()
        if self._replies is not None:
            self._replies.close()
            self._replies = None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def _forget_after_fork(self) -> None:
        # In a forked child: the worker and its pipes are the parent's. Drop them unclosed and untouched; a lock
        # another parent thread held at the fork would never be released here, so take a new one.
        self._lock = threading.Lock()
        self._process, self._buffer = None, b""
        self._replies = None  # the parent's epoll instance: left alone, like its pipes
        self._known = OrderedDict()


class VerifierPool:
    """Up to ``size`` verifier processes judging concurrent requests in parallel (see the module docstring).

    Args:
        size: the most worker processes (default: :func:`available_cpus`). Each costs ~150 MB once started.
        startup_timeout_s, prepare_timeout_s: passed to each :class:`VerifierProcess`.
    """

    def __init__(self, size: int | None = None, *, startup_timeout_s: float = STARTUP_TIMEOUT_S,
                 prepare_timeout_s: float = PREPARE_TIMEOUT_S) -> None:
        size = available_cpus() if size is None else size
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"a verifier pool needs size >= 1 (worker processes), got {size!r}")
        self.size = size
        self.startup_timeout_s = startup_timeout_s
        self.prepare_timeout_s = prepare_timeout_s
        self._available = threading.Condition()
        self._workers: list[VerifierProcess] = []
        self._idle: list[VerifierProcess] = []  # most recently used last: a sequential caller keeps one worker
        self._closed = False
        _live.add(self)

    def call(self, request: dict[str, Any], timeout_s: float, *, key: str | None = None) -> dict[str, Any]:
        """Judge ``request`` on an idle worker (waiting for one when all ``size`` are busy); as
        :meth:`VerifierProcess.call`. ``key`` names what the worker caches for it (a gold answer, a task)."""
        worker = self._take(key)
        succeeded = False
        try:
            reply = worker.call(request, timeout_s)
            succeeded = True
            return reply
        finally:
            with self._available:
                if succeeded and key is not None:
                    worker.remember(key)
                if worker in self._workers:  # not closed meanwhile
                    self._idle.append(worker)
                    self._available.notify()

    @property
    def pids(self) -> list[int]:
        """The process ids of the running workers."""
        with self._available:
            return [pid for pid in (worker.pid for worker in self._workers) if pid is not None]

    def close(self) -> None:
        """Stop every worker (a request in flight finishes first). Calls after this raise :class:`VerifierError`."""
        with self._available:
            self._closed = True
            workers, self._workers, self._idle = self._workers, [], []
            self._available.notify_all()
        for worker in workers:
            worker.close()

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _take(self, key: str | None) -> VerifierProcess:
        with self._available:
            while True:
                if self._closed:
                    raise VerifierError("the verifier pool is closed")
                if self._idle:
                    return self._idle.pop(self._preferred(key))
                if len(self._workers) < self.size:
                    worker = VerifierProcess(self.startup_timeout_s, self.prepare_timeout_s)
                    self._workers.append(worker)
                    return worker  # it starts on its first call, outside this lock
                self._available.wait()

    def _preferred(self, key: str | None) -> int:
        """Which idle worker serves ``key``: one that served it before, else its home among the running workers (so
        that a key's next requests find it warm), else the most recently used one."""
        if key is None:
            return -1
        for position, worker in enumerate(self._idle):
            if worker.knows(key):
                return position
        home = self._workers[zlib.crc32(key.encode()) % len(self._workers)]
        return self._idle.index(home) if home in self._idle else -1

    def _forget_after_fork(self) -> None:
        self._available = threading.Condition()
        self._workers, self._idle = [], []  # the parent's; their own fork hook has already dropped their pipes


_live: weakref.WeakSet = weakref.WeakSet()  # every pool and process, for the fork and exit hooks
_default: VerifierPool | None = None
_default_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _default, _default_lock
    _default, _default_lock = None, threading.Lock()
    for owner in list(_live):
        owner._forget_after_fork()


def _close_all_at_exit() -> None:
    for owner in list(_live):
        owner.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)


def default_verifier() -> VerifierPool:
    """The process-wide verifier pool, shared by every env in this process (stopped at exit).

    Its size is ``$SELFGYM_VERIFIER_PROCESSES`` when set, else :func:`available_cpus`; see
    :func:`set_verifier_processes`.
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = VerifierPool(_configured_size())
        return _default


def set_verifier_processes(size: int | None) -> None:
    """Use at most ``size`` verifier processes from now on (``None``: the default). The workers of the current
    pool are stopped once their requests finish; new ones start on demand."""
    global _default
    pool = VerifierPool(size if size is not None else _configured_size())
    with _default_lock:
        old, _default = _default, pool
    if old is not None:
        old.close()


def _configured_size() -> int:
    value = os.environ.get(PROCESSES_VARIABLE, "").strip()
    if not value:
        return available_cpus()
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"${PROCESSES_VARIABLE} must be a whole number >= 1 (verifier worker processes), "
                         f"got {value!r}")
    return size
