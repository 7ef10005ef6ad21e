"""How an environment gets a sandbox: from a pool shared with other envs, or from a private one.

Pools and sandboxes belong to the process that made them (their connections to Docker are its sockets). So a
lease in a forked child forgets what it inherited, a pool shared from another process is refused with a clear
error, and a :class:`~selfgym.sandbox.SandboxPool` pickles as a reference to itself: unpickled in the process
that holds it, it is that pool; anywhere else it is a :class:`ForeignPool`, which says what the pool was and
refuses to hand out sandboxes.
"""

from __future__ import annotations

import copyreg
import os
import weakref
from contextlib import AbstractContextManager
from typing import Any

from ..sandbox import Limits, Sandbox, SandboxLostError, SandboxPool, default_image, docker_client
from ..sandbox.engine import check_owner, foreign_process_error, owner_pid

# Pools pickled by this process, by id: unpickling one here gives the pool itself, not a copy.
_PICKLED_POOLS: weakref.WeakValueDictionary[str, SandboxPool] = weakref.WeakValueDictionary()
os.register_at_fork(after_in_child=_PICKLED_POOLS.clear)  # a child's unpickled pools are never the parent's


class ForeignPool:
    """What a :class:`SandboxPool` unpickles to in a process that does not hold it (a spawned worker, a
    restored checkpoint): its id, image, limits and size, and an error on :meth:`acquire`."""

    closed = False

    def __init__(self, pool_id: str, image: str, limits: Limits, size: int, owner_pid: int) -> None:
        self.id, self.image, self.limits, self.size, self.owner_pid = pool_id, image, limits, size, owner_pid

    def acquire(self, timeout: float | None = None) -> AbstractContextManager[Sandbox]:
        raise foreign_process_error("SandboxPool", self.owner_pid)

    def close(self) -> None:
        """Nothing to do: the pool's containers are its own process's to remove."""

    def __repr__(self) -> str:
        return f"ForeignPool(id={self.id}, image={self.image!r}, size={self.size}, owner_pid={self.owner_pid})"


def _pool_reference(pool: SandboxPool) -> tuple:
    _PICKLED_POOLS[pool.id] = pool
    owner = owner_pid(pool.client) or os.getpid()
    return _resolve_pool, (pool.id, pool.image, pool.limits, pool.size, owner)


def _resolve_pool(pool_id: str, image: str, limits: Limits, size: int, owner: int) -> SandboxPool | ForeignPool:
    pool = _PICKLED_POOLS.get(pool_id)
    if pool is not None:
        return pool
    return ForeignPool(pool_id, image, limits, size, owner)


copyreg.pickle(SandboxPool, _pool_reference)


class SandboxLease:
    """Holds at most one sandbox for an env between ``reset`` and ``close``.

    Pass ``pool=`` to share one :class:`SandboxPool` between many env instances (vector envs, eval workers);
    otherwise the env makes a private pool of one sandbox on first use, with ``image`` (a tag; default: the
    current build of the sandbox image ``image_name``) and ``limits``. ``renew()``
    returns a clean sandbox for a new episode (the old one is released to the pool, which resets it);
    ``release()`` gives it back; ``close()`` also closes a private pool.

    A shared pool must belong to this process: one a forked child inherited, or one unpickled in another
    process, raises :class:`~selfgym.sandbox.engine.ForeignProcessError` when a sandbox is needed. A lease
    pickles without its sandbox and private pool; restored, it takes new ones on first use (from the shared pool
    when unpickled in the process that holds it, else from a private pool with that pool's image and limits).
    """

    def __init__(self, pool: SandboxPool | ForeignPool | None = None, *, image: str | None = None,
                 limits: Limits | None = None, image_name: str = "python") -> None:
        self._shared_pool = pool
        self._private_pool: SandboxPool | None = None
        self._image = image
        self._image_name = image_name
        self._limits = limits
        self._held: AbstractContextManager[Sandbox] | None = None
        self.sandbox: Sandbox | None = None
        self._pid = os.getpid()

    @property
    def pool(self) -> SandboxPool:
        self._adopt_process()
        if self._shared_pool is not None:
            if isinstance(self._shared_pool, SandboxPool):
                check_owner(self._shared_pool.client, "SandboxPool")
            return self._shared_pool
        if self._private_pool is None:
            client = docker_client()
            self._private_pool = SandboxPool(self._image or default_image(client, self._image_name), size=1,
                                             limits=self._limits, client=client)
        return self._private_pool

    def _adopt_process(self) -> None:
        """In a forked child, forget the sandbox and private pool inherited from the parent: they are the
        parent's to release, and using them would share its sockets."""
        if self._pid != os.getpid():
            self._held = self.sandbox = self._private_pool = None
            self._pid = os.getpid()

    def renew(self) -> Sandbox:
        """Release the sandbox held (if any) and acquire a clean one."""
        self.release()
        self._held = self.pool.acquire()
        self.sandbox = self._held.__enter__()
        return self.sandbox

    def current(self) -> Sandbox:
        """The sandbox of this episode (acquired on first use). ``SandboxLostError`` if it died: the episode's
        state went with it, and the env decides what to do (see :class:`~selfgym.envs.base.TextEnv`)."""
        self._adopt_process()
        if self.sandbox is None:
            return self.renew()
        if not self.sandbox.alive:
            raise SandboxLostError(f"The episode's sandbox {self.sandbox.short_id} is lost.")
        return self.sandbox

    def release(self) -> None:
        self._adopt_process()
        if self._held is not None:
            held, self._held, self.sandbox = self._held, None, None
            held.__exit__(None, None, None)

    def close(self) -> None:
        self.release()
        if self._private_pool is not None:
            self._private_pool.close()
            self._private_pool = None

    def __getstate__(self) -> dict[str, Any]:
        return {"pool": self._shared_pool, "image": self._image, "limits": self._limits,
                "image_name": self._image_name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pool, image, limits = state["pool"], state["image"], state["limits"]
        if isinstance(pool, ForeignPool):  # restored away from the pool's process: a private one like it
            pool, image, limits = None, pool.image, pool.limits
        self.__init__(pool, image=image, limits=limits, image_name=state["image_name"])
