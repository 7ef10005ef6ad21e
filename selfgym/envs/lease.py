"""How an environment gets a sandbox: from a pool shared with other envs, or from a private one.

Pools and sandboxes belong to the process that made them (their connections to Docker are its sockets). So a
lease in a forked child forgets what it inherited, a pool shared from another process is refused with a clear
error, and a pool pickled elsewhere comes back as a :class:`~selfgym.sandbox.pool.ForeignPool`. The sandbox
layer (Docker's SDK) is imported when a sandbox is first needed, not with the env.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..sandbox.errors import SandboxLostError
from ..sandbox.limits import Limits

if TYPE_CHECKING:
    from ..sandbox import Sandbox, SandboxPool
    from ..sandbox.pool import ForeignPool

class SandboxLease:
    """Holds at most one sandbox for an env between ``reset`` and ``close``.

    Pass ``pool=`` to share one :class:`SandboxPool` between many env instances (vector envs, eval workers);
    otherwise the env makes a private pool of one sandbox on first use, with ``image`` (a tag; default: the
    current build of the sandbox image ``image_name``) and ``limits``. ``renew()``
    returns a clean sandbox for a new episode (the old one is released to the pool, which resets it);
    ``release()`` gives it back; ``close()`` also closes a private pool.

    ``acquire_timeout_s`` bounds each wait for a sandbox of the pool (None: as long as it takes; a fork sets it,
    see :meth:`selfgym.envs.base.TextEnv.fork`), past which the pool raises ``TimeoutError``.

    A shared pool must belong to this process: one a forked child inherited, or one unpickled in another
    process, raises :class:`~selfgym.sandbox.engine.ForeignProcessError` when a sandbox is needed. A lease
    pickles without its sandbox and private pool; restored, it takes new ones on first use (from the shared pool
    when unpickled in the process that holds it, else from a private pool with that pool's image and limits).
    """

    acquire_timeout_s: float | None = None  # a class default: leases pickled before it existed have none

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
        from ..sandbox import SandboxPool, default_image, docker_client
        from ..sandbox.engine import check_owner

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
        held = self.pool.acquire(timeout=self.acquire_timeout_s)
        self.sandbox = held.__enter__()
        self._held = held
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
        from ..sandbox.pool import ForeignPool

        pool, image, limits = state["pool"], state["image"], state["limits"]
        if isinstance(pool, ForeignPool):  # restored away from the pool's process: a private one like it
            pool, image, limits = None, pool.image, pool.limits
        self.__init__(pool, image=image, limits=limits, image_name=state["image_name"])
