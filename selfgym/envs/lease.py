"""How an environment gets a sandbox: from a pool shared with other envs, or from a private one."""

from __future__ import annotations

from contextlib import AbstractContextManager

from ..sandbox import Limits, Sandbox, SandboxLostError, SandboxPool, default_image, docker_client


class SandboxLease:
    """Holds at most one sandbox for an env between ``reset`` and ``close``.

    Pass ``pool=`` to share one :class:`SandboxPool` between many env instances (vector envs, eval workers);
    otherwise the env makes a private pool of one sandbox on first use, with ``image`` (a tag; default: the
    current build of the sandbox image ``image_name``) and ``limits``. ``renew()``
    returns a clean sandbox for a new episode (the old one is released to the pool, which resets it);
    ``release()`` gives it back; ``close()`` also closes a private pool.
    """

    def __init__(self, pool: SandboxPool | None = None, *, image: str | None = None,
                 limits: Limits | None = None, image_name: str = "python") -> None:
        self._shared_pool = pool
        self._private_pool: SandboxPool | None = None
        self._image = image
        self._image_name = image_name
        self._limits = limits
        self._held: AbstractContextManager[Sandbox] | None = None
        self.sandbox: Sandbox | None = None

    @property
    def pool(self) -> SandboxPool:
        if self._shared_pool is not None:
            return self._shared_pool
        if self._private_pool is None:
            client = docker_client()
            self._private_pool = SandboxPool(self._image or default_image(client, self._image_name), size=1,
                                             limits=self._limits, client=client)
        return self._private_pool

    def renew(self) -> Sandbox:
        """Release the sandbox held (if any) and acquire a clean one."""
        self.release()
        self._held = self.pool.acquire()
        self.sandbox = self._held.__enter__()
        return self.sandbox

    def current(self) -> Sandbox:
        """The sandbox of this episode (acquired on first use). ``SandboxLostError`` if it died: the episode's
        state went with it, and the env decides what to do (see :class:`~selfgym.envs.base.TextEnv`)."""
        if self.sandbox is None:
            return self.renew()
        if not self.sandbox.alive:
            raise SandboxLostError(f"The episode's sandbox {self.sandbox.short_id} is lost.")
        return self.sandbox

    def release(self) -> None:
        if self._held is not None:
            held, self._held, self.sandbox = self._held, None, None
            held.__exit__(None, None, None)

    def close(self) -> None:
        self.release()
        if self._private_pool is not None:
            self._private_pool.close()
            self._private_pool = None
