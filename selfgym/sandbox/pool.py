"""A pool of warm sandboxes, handed out one at a time and recycled on release."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import signal
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import SandboxError, SandboxKilledAtStartError
from .images import default_image
from .limits import Limits
from .reaper import reap
from .sandbox import Sandbox
from .sdk import docker

log = logging.getLogger(__name__)
START_ATTEMPTS = 3  # a sandbox killed from outside while it starts is a loss: another is started, twice at most

_LIVE_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()
# A forked child (AsyncVectorEnv and multiprocessing workers) inherits the parent's pools; its exit or SIGTERM
# must not close them (their containers are the parent's), so the child starts with none of its own.
os.register_at_fork(after_in_child=_LIVE_POOLS.clear)
_handlers_lock = threading.Lock()
_handlers_installed = False


@dataclass
class PoolStats:
    """Counters of a pool's life: containers started and replaced, commands-free resets, hand-outs."""

    started: int = 0
    replaced: int = 0
    acquired: int = 0


class SandboxPool:
    """``size`` warm sandboxes of one image and one set of limits, shared safely between threads.

    ``acquire()`` is a context manager that hands out a sandbox; on release the sandbox is reset (every process
    killed, scratch directories emptied) and goes back to the pool, or, if it died or cannot be reset, is removed
    and replaced in the background. Closing the pool (``close()``, the ``with`` block, interpreter exit, or
    SIGTERM) removes every container. At start the pool reaps containers that crashed selfgym processes left.
    ``warm`` containers start with the pool (default: all ``size``); the others start when first needed (envs
    that may never run a command, like Math-v0 without tools, then cost no container).

    Example::

        with SandboxPool(size=4, limits=Limits(memory_mb=256, disk_mb=64, timeout_s=5)) as pool:
            with pool.acquire() as sb:
                result = sb.run("python3 -c 'print(2 ** 10)'")
    """

    def __init__(
        self,
        image: str | None = None,
        size: int = 4,
        limits: Limits | None = None,
        *,
        client: docker.DockerClient | None = None,
        reap_orphans: bool = True,
        warm: int | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"SandboxPool size must be at least 1, got {size}")
        warm = size if warm is None else warm
        if not 0 <= warm <= size:
            raise ValueError(f"SandboxPool warm must be between 0 and size ({size}), got {warm}")
        from .engine import docker_client  # Docker's SDK: loaded with the first pool

        self.client = client or docker_client()
        self.image = image or default_image(self.client)
        self.size = size
        self.limits = limits or Limits()
        self.id = uuid.uuid4().hex[:12]
        self.stats = PoolStats()
        self._idle: queue.Queue[Sandbox] = queue.Queue()
        self._members: set[Sandbox] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._replace_error: BaseException | None = None
        self._unstarted = size - warm  # slots started on first demand
        self._replacer = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"selfgym-pool-{self.id}")
        if reap_orphans:
            reap(self.client)
        _LIVE_POOLS.add(self)
        _install_exit_handlers()
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(warm, 8))) as starter:
                for sandbox in starter.map(lambda _: self._start_one(), range(warm)):
                    self._idle.put(sandbox)
        except BaseException:
            self.close()
            raise

    def _start_one(self) -> Sandbox:
        for attempt in range(START_ATTEMPTS):
            try:
                sandbox = Sandbox(self.image, self.limits, client=self.client, labels={"selfgym.pool": self.id})
                break
            except SandboxKilledAtStartError:  # killed from outside while starting: a loss, start another
                if attempt == START_ATTEMPTS - 1:
                    raise
        with self._lock:
            self._members.add(sandbox)
            self.stats.started += 1
            if self._closed:  # closed while we were starting: do not leak it
                self._members.discard(sandbox)
                sandbox.close()
                raise SandboxError("The pool was closed.")
        return sandbox

    def _replace(self) -> None:
        """Start a sandbox in place of a retired one. One try (``_start_one`` already starts another if one is
        killed while it starts): if it fails, the slot goes back to the unstarted ones, so the next acquire that
        finds no idle sandbox starts it, and reports the failure to its caller if it fails again."""
        if self._closed:
            return
        try:
            self._idle.put(self._start_one())
            with self._lock:
                self.stats.replaced += 1
                self._replace_error = None
        except SandboxError as exc:
            log.warning("replacing a sandbox failed: %s (the next acquire that needs it starts it)", exc)
            with self._lock:
                self._replace_error = exc
                self._unstarted += 1

    def _retire(self, sandbox: Sandbox) -> None:
        with self._lock:
            self._members.discard(sandbox)
        sandbox.close()
        if not self._closed:
            self._replacer.submit(self._replace)

    @contextmanager
    def acquire(self, timeout: float | None = None) -> Iterator[Sandbox]:
        """Hand out a warm sandbox for the ``with`` block; wait up to ``timeout`` seconds (None: forever)."""
        sandbox = self._take(timeout)
        try:
            yield sandbox
        finally:
            self.release(sandbox)

    def _claim_unstarted(self) -> bool:
        """Claim a slot not started yet, when no sandbox is idle (else wait for one)."""
        with self._lock:
            if self._unstarted and self._idle.empty():
                self._unstarted -= 1
                return True
        return False

    def _start_claimed(self) -> Sandbox:
        try:
            return self._start_one()
        except BaseException:
            with self._lock:
                self._unstarted += 1  # the slot is free again: the next acquire tries once more
            raise

    def _take(self, timeout: float | None) -> Sandbox:
        from .engine import check_owner

        check_owner(self.client, "SandboxPool")  # a forked child must not use its parent's containers and sockets
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise SandboxError("This SandboxPool is closed; create a new one.")
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError(
                    f"No sandbox became free within {timeout} s (pool of {self.size}). Use a larger pool "
                    "or release sandboxes sooner."
                )
            if self._claim_unstarted():
                sandbox = self._start_claimed()
            else:
                try:
                    sandbox = self._idle.get(timeout=wait)
                except queue.Empty:
                    if self._replace_error is not None and not self._members:
                        raise SandboxError(f"The pool has no sandbox left and cannot start one: {self._replace_error}")
                    continue
            if sandbox.alive:
                with self._lock:
                    self.stats.acquired += 1
                return sandbox
            self._retire(sandbox)

    def release(self, sandbox: Sandbox) -> None:
        """Reset ``sandbox`` and return it to the pool (``acquire`` does this for you)."""
        if self._closed:
            sandbox.close()
            return
        try:
            if sandbox.alive:
                sandbox.reset()
        except SandboxError as exc:
            log.info("sandbox %s is tainted and will be replaced: %s", sandbox.short_id, exc)
        if sandbox.alive:
            self._idle.put(sandbox)
        else:
            self._retire(sandbox)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def members(self) -> int:
        """Containers the pool has running (idle or handed out)."""
        with self._lock:
            return len(self._members)

    @property
    def in_use(self) -> int:
        """Sandboxes handed out and not yet released."""
        with self._lock:
            return len(self._members) - self._idle.qsize()

    def close(self) -> None:
        """Remove every container of the pool. Idempotent; also runs at exit and on SIGTERM."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            members = list(self._members)
            self._members.clear()
        self._replacer.shutdown(wait=True, cancel_futures=True)
        with self._lock:  # a replacement may have finished while we waited
            members += list(self._members)
            self._members.clear()
        if members:
            try:
                with ThreadPoolExecutor(max_workers=min(len(members), 8)) as closer:
                    list(closer.map(lambda sb: sb.close(), members))
            except RuntimeError:  # at interpreter exit no new thread may start: close them one by one
                for sandbox in members:
                    sandbox.close()
        _LIVE_POOLS.discard(self)

    # gym.make deep-copies its kwargs (and keeps them in the env spec): a pool passed as pool= must stay the one
    # shared pool, not be duplicated (its containers and locks cannot be copied anyway)
    def __copy__(self) -> SandboxPool:
        return self

    def __deepcopy__(self, memo: dict) -> SandboxPool:
        return self

    # pickled, a pool is a reference to itself: the same pool where it is unpickled in this process, a
    # ForeignPool anywhere else (its containers and sockets are this process's)
    def __reduce__(self) -> tuple:
        return _pool_reference(self)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SandboxPool(id={self.id}, image={self.image!r}, size={self.size}, closed={self._closed})"


def close_all_pools() -> None:
    """Close every live pool of this process (atexit and SIGTERM call this)."""
    for pool in list(_LIVE_POOLS):
        try:
            pool.close()
        except Exception as exc:  # at exit, one failing pool must not keep the others' containers alive
            log.warning("closing %r failed: %s", pool, exc)


def _on_sigterm(signum, frame, previous=None) -> None:
    close_all_pools()
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)  # die of SIGTERM as the process would have without us
    os.kill(os.getpid(), signum)


def _install_exit_handlers() -> None:
    global _handlers_installed
    with _handlers_lock:
        if _handlers_installed:
            return
        _handlers_installed = True
        atexit.register(close_all_pools)
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, lambda s, f: _on_sigterm(s, f, previous))


# Pools pickled by this process, by id: unpickling one here gives the pool itself, not a copy.
_PICKLED_POOLS: weakref.WeakValueDictionary[str, SandboxPool] = weakref.WeakValueDictionary()
os.register_at_fork(after_in_child=_PICKLED_POOLS.clear)  # a child's unpickled pools are never the parent's


class ForeignPool:
    """What a :class:`SandboxPool` unpickles to in a process that does not hold it (a spawned worker, a
    restored checkpoint): its id, image, limits and size, and an error on :meth:`acquire`."""

    closed = False

    def __init__(self, pool_id: str, image: str, limits: Limits, size: int, owner_pid: int) -> None:
        self.id, self.image, self.limits, self.size, self.owner_pid = pool_id, image, limits, size, owner_pid

    def acquire(self, timeout: float | None = None) -> Iterator[Sandbox]:
        from .engine import foreign_process_error

        raise foreign_process_error("SandboxPool", self.owner_pid)

    def close(self) -> None:
        """Nothing to do: the pool's containers are its own process's to remove."""

    def __repr__(self) -> str:
        return f"ForeignPool(id={self.id}, image={self.image!r}, size={self.size}, owner_pid={self.owner_pid})"


def _pool_reference(pool: SandboxPool) -> tuple:
    _PICKLED_POOLS[pool.id] = pool
    from .engine import owner_pid

    owner = owner_pid(pool.client) or os.getpid()
    return _resolve_pool, (pool.id, pool.image, pool.limits, pool.size, owner)


def _resolve_pool(pool_id: str, image: str, limits: Limits, size: int, owner: int) -> SandboxPool | ForeignPool:
    pool = _PICKLED_POOLS.get(pool_id)
    if pool is not None:
        return pool
    return ForeignPool(pool_id, image, limits, size, owner)
