"""One env server from several processes on one port (``selfgym env-server --processes N``).

One process's event loop spends about a millisecond of CPU per episode on the protocol (JSON, pydantic, the
WebSocket layer), so one process serves at most a core's worth of episodes; N processes serve N cores' worth.

Each child process is a whole :class:`~selfgym.envs.remote.server.EnvServer` (its envs, executor, sandbox pool and
fair gate) listening on the same port with ``SO_REUSEPORT``: the kernel spreads new connections over the children,
and a WebSocket session, one connection, stays with the child that accepted it, where its env lives. What the
children share:

* the session counts (:class:`SessionCounts`, shared memory): ``max_sessions`` holds for all of them together;
* a folder for snapshots, so that a fork (a new session restoring another's snapshot) plays on any child.

What each child has of its own: ``pool_size // N`` sandboxes (the remainder to the first ones; at least one) with
its own first-come, first-served gate (the kernel's even spread of sessions keeps the children's queues alike),
its executor's threads, and its math verifier's processes.

The parent supervises: it holds the port (bound, not listening, so no other program takes it between children),
restarts a child that dies (its sessions are lost: their clients see the connection drop) and logs it, and on
SIGINT or SIGTERM stops every child (each closes its sessions and sandboxes within ``STOP_GRACE_S``; one that does
not is killed, and its containers, labelled with its pid, exit with it or are reaped). A child dies with the
parent (``PR_SET_PDEATHSIG``), so none is orphaned. Children fork from the parent (which runs no thread), so they
share its imported modules.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.synchronize
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

log = logging.getLogger(__name__)
STOP_GRACE_S = 10  # at SIGINT/SIGTERM, how long open sessions get to close before the server stops anyway
QUICK_DEATH_S = 10.0  # a child that dies this soon after it started, this many times in a row, stops the server
QUICK_DEATHS = 3
PR_SET_PDEATHSIG = 1


class SessionCounts:
    """Sessions open in each of ``processes`` server processes, in shared memory, so that one ``max_sessions``
    holds for all of them together (a dead process's count is cleared by the supervisor: :meth:`clear`).

    Made before the processes fork (they inherit it); each process counts in its own slot.
    """

    def __init__(self, processes: int) -> None:
        if processes < 1:
            raise ValueError(f"at least one process, got {processes}")
        self._counts = multiprocessing.get_context("fork").Array("q", processes)  # locked across processes

    def take(self, index: int, limit: int) -> bool:
        """One more session in process ``index``, unless ``limit`` are open in all of them together."""
        with self._counts.get_lock():
            if sum(self._counts.get_obj()) >= limit:
                return False
            self._counts[index] += 1
            return True

    def give(self, index: int) -> None:
        """A session of process ``index`` ended."""
        with self._counts.get_lock():
            self._counts[index] -= 1

    def clear(self, index: int) -> None:
        """Process ``index`` died: its sessions went with it."""
        with self._counts.get_lock():
            self._counts[index] = 0

    def per_process(self) -> list[int]:
        with self._counts.get_lock():
            return list(self._counts.get_obj())


@dataclass(frozen=True)
class ProcessPlace:
    """What a child is told: it is process ``index`` of ``processes``; the session counts and snapshot folder that
    all of them share."""

    index: int
    processes: int
    sessions: SessionCounts
    snapshots_dir: Path

    def share(self, total: int) -> int:
        """This process's part of ``total`` (sandboxes): an even split, the remainder to the first processes, and
        at least one."""
        return max(1, total // self.processes + (self.index < total % self.processes))


def default_processes() -> int:
    """One server process per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def raise_open_files_limit(wanted: int) -> None:
    """Lift the soft open-files limit towards ``wanted`` (within the hard one): each session is a socket, and a
    soft limit of 1,024 would refuse connections long before ``max_sessions``."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))


def port_socket(host: str, port: int, *, backlog: int | None) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT`` (so that every child binds the same port);
    listening with ``backlog`` unless None (the parent's, which only holds the port)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if backlog is not None:
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot bind {host}:{port}: {exc.strerror} (is another server on that port?)") \
            from None
    return sock


class ChildFailed(RuntimeError):
    """A server process could not start (its env or curriculum failed to build): the message says why."""


def _child_main(run_child: Callable[[ProcessPlace, Callable[[], None]], None], place: ProcessPlace,
                report: Connection, start_gate: multiprocessing.synchronize.Event) -> None:
    # die with the parent, whatever kills it (no orphan keeps the port or its containers)
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    for signum in (signal.SIGINT, signal.SIGTERM):  # the parent's handlers are not ours; uvicorn installs its own
        signal.signal(signum, signal.SIG_DFL)

    built = False

    def ready() -> None:
        nonlocal built
        built = True
        report.send(("ready", ""))
        report.close()
        start_gate.wait()  # every child built: they listen together, so the first clients spread over all

    try:
        run_child(place, ready)
    except Exception as exc:
        if built:
            raise  # a fault while serving: its traceback goes to the log, and the supervisor starts another
        with contextlib.suppress(OSError):  # the supervisor says why, once, and stops
            report.send(("failed", f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from None


@dataclass
class _Child:
    index: int
    process: multiprocessing.process.BaseProcess
    report: Connection | None
    started: float
    ready: bool = False


def supervise(run_child: Callable[[ProcessPlace, Callable[[], None]], None], *, processes: int, host: str,
              port: int, open_files: int, on_ready: Callable[[], None] = lambda: None) -> None:
    """Run ``processes`` children, each ``run_child(place, ready)`` (which builds its server, calls ``ready()``
    and then listens and serves on ``place``'s share until SIGTERM), until SIGINT or SIGTERM; restart one that dies.

    At the start, ``ready()`` returns once every child is built (connections go only to listening sockets: a
    child that listened first would get every early client); ``on_ready`` runs then. :class:`ChildFailed` when a
    child fails before it is built at the start (or dies within ``QUICK_DEATH_S`` of its start ``QUICK_DEATHS``
    times in a row): what failed is the same in every child (the env, the curriculum), so the server stops with
    the child's error.
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    raise_open_files_limit(open_files)
    holder = port_socket(host, port, backlog=None)  # fails now, in the parent, if the port is taken
    snapshots_dir = Path(tempfile.mkdtemp(prefix="selfgym-env-server-snapshots-", dir=_shared_memory_dir()))
    sessions = SessionCounts(processes)
    context = multiprocessing.get_context("fork")
    start_gate = context.Event()
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    children: list[_Child] = []

    def start(index: int) -> _Child:
        reader, writer = context.Pipe(duplex=False)
        place = ProcessPlace(index, processes, sessions, snapshots_dir)
        process = context.Process(target=_child_main, args=(run_child, place, writer, start_gate),
                                  name=f"selfgym-env-server-{index}")
        process.start()
        writer.close()
        return _Child(index, process, reader, time.monotonic())

    quick_deaths = 0
    try:
        children = [start(index) for index in range(processes)]
        announced = False
        while not stopping:
            waitables = [c.process.sentinel for c in children] + [c.report for c in children if c.report]
            with contextlib.suppress(InterruptedError):
                wait(waitables, timeout=0.5)
            for position, child in enumerate(children):
                if child.report is not None and child.report.poll():
                    with contextlib.suppress(EOFError, OSError):
                        status, detail = child.report.recv()
                        if status == "failed" and not announced:
                            raise ChildFailed(detail)
                        child.ready = status == "ready"
                    child.report.close()
                    child.report = None
                if child.process.is_alive() or stopping:
                    continue
                child.process.join()
                sessions.clear(child.index)
                if not announced and not child.ready:
                    raise ChildFailed(f"server process {child.index} exited with {child.process.exitcode} before "
                                      "it was built")
                quick = time.monotonic() - child.started < QUICK_DEATH_S
                quick_deaths = quick_deaths + 1 if quick else 0
                if quick_deaths >= QUICK_DEATHS:
                    raise ChildFailed(f"server process {child.index} died {quick_deaths} times in a row within "
                                      f"{QUICK_DEATH_S:g} s of its start (exit code {child.process.exitcode})")
                log.warning("server process %d (pid %d) exited with %s; its sessions are lost; starting another",
                            child.index, child.process.pid, child.process.exitcode)
                children[position] = start(child.index)
            if not announced and all(c.ready for c in children):
                announced = True
                start_gate.set()
                on_ready()
    finally:
        _stop_children([c.process for c in children])
        for child in children:
            if child.report is not None:
                child.report.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        holder.close()
        shutil.rmtree(snapshots_dir, ignore_errors=True)


def _stop_children(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """SIGTERM each child (uvicorn closes its sessions, each env gives its sandbox back); kill the ones still
    running after ``STOP_GRACE_S`` and a little."""
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S + 2
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            log.warning("server process %s (pid %d) did not stop within %d s; killed", process.name, process.pid,
                        STOP_GRACE_S + 2)
            process.kill()
            process.join()


def _shared_memory_dir() -> str | None:
    """Snapshots go to memory (``/dev/shm``) where there is one, else to the temporary folder."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
