"""A child process that judges answers under a deadline, from any thread.

math-verify's timeout is ``signal.alarm``: it works only on the main thread of the main interpreter, and no
signal interrupts sympy while it is inside C code (``10**10**10`` as a big integer). Envs run on worker threads
(eval), in vector-env subprocesses (daemonic, so ``multiprocessing`` children are not allowed) and in the main
thread. So the slow judgements run in a plain ``subprocess`` (:mod:`.worker`) that keeps sympy, the parsed gold
answers and reasoning-gym's datasets warm between calls. The worker stops itself at the deadline when it can
(an interval timer); past the deadline and a grace period this side kills it, and the next call starts a new one.

The protocol is one JSON object per line each way; one request is in flight at a time (a lock).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

KILL_GRACE_S = 2.0  # beyond the request's own deadline, before the worker is killed
STARTUP_TIMEOUT_S = 120.0  # importing sympy, math-verify and reasoning-gym on a loaded machine
PREPARE_TIMEOUT_S = 300.0  # trusted work before a judgement: building a reasoning-gym dataset (cached)


class VerifierError(RuntimeError):
    """The verifier worker failed (it crashed, or could not start)."""


class VerificationTimeout(TimeoutError):
    """A judgement ran past its deadline."""


class VerifierProcess:
    """A worker process for slow judgements; started on first use, replaced when it is killed or dies."""

    def __init__(self, startup_timeout_s: float = STARTUP_TIMEOUT_S,
                 prepare_timeout_s: float = PREPARE_TIMEOUT_S) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.prepare_timeout_s = prepare_timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._buffer = b""
        self._owner_pid = os.getpid()
        self.generation = 0  # bumped at every (re)start: what the worker had cached is gone

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for its reply: the worker prepares (trusted work: gold parsing, dataset
        building), says it started, then judges within ``timeout_s`` (+ a grace period before it is killed).

        Raises :class:`VerificationTimeout` past the deadline (the worker is then replaced) and
        :class:`VerifierError` if the worker dies or answers with an error.
        """
        with self._lock:
            process = self._ensure_started()
            try:
                process.stdin.write(json.dumps({**request, "timeout_s": timeout_s}).encode() + b"\n")
                process.stdin.flush()
            except OSError:
                self._stop()
                raise VerifierError("the verifier process died") from None
            reply = self._read_reply(time.monotonic() + self.prepare_timeout_s)
            if reply.get("started"):
                reply = self._read_reply(time.monotonic() + timeout_s + KILL_GRACE_S)
        if reply.get("timeout"):
            raise VerificationTimeout(f"judgement took longer than {timeout_s:g} s")
        if "error" in reply:
            raise VerifierError(reply["error"])
        return reply

    @property
    def pid(self) -> int | None:
        """The worker's process id while one runs."""
        return self._process.pid if self._process is not None else None

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
            [sys.executable, "-m", "selfgym.envs.math.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=env, start_new_session=True,  # Ctrl-C in a terminal goes to the env, which then stops the worker
        )
        self._buffer = b""
        self.generation += 1
        hello = self._read_reply(time.monotonic() + self.startup_timeout_s, starting=True)
        if not hello.get("ready"):
            self._stop()
            raise VerifierError(f"unexpected greeting from the verifier process: {hello!r}")
        return self._process

    def _read_reply(self, deadline: float, starting: bool = False) -> dict[str, Any]:
        stream = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop()
                if starting:
                    raise VerifierError("the verifier process did not start in time")
                return {"timeout": True}  # past the deadline: the worker is stuck where no timer reaches
            readable, _, _ = select.select([stream], [], [], remaining)
            if readable:
                chunk = os.read(stream, 65536)
                if not chunk:
                    code = self._process.poll()
                    self._stop()
                    raise VerifierError(f"the verifier process exited (code {code})")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or os.getpid() != self._owner_pid:  # a forked copy of this object owns nothing
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass


_default: VerifierProcess | None = None
_default_lock = threading.Lock()


def _forget_default_in_child() -> None:
    # A forked child (a vector env's worker) must not talk to its parent's verifier through inherited pipes.
    global _default, _default_lock
    _default, _default_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_default_in_child)


def default_verifier() -> VerifierProcess:
    """The process-wide verifier, shared by every env in this process (stopped at exit)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = VerifierProcess()
            atexit.register(_default.close)
        return _default
