"""Sandbox pools made from what an env declares (``sandbox_spec``), for code that runs many envs of an id, and
sets of envs of one id sharing one pool in this process (what a local executor and an env worker hold)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from ..sandbox.limits import Limits
from ..sandbox.spec import SandboxSpec

if TYPE_CHECKING:
    from ..sandbox import SandboxPool


def env_class(env_id: str) -> type:
    """The class a registered Gymnasium id makes (``gym.make``'s entry point), without making one."""
    try:
        entry_point = gym.registry[env_id].entry_point
    except KeyError:
        raise ValueError(f"{env_id!r} is not a registered environment id") from None
    if callable(entry_point):
        return entry_point
    module, _, name = str(entry_point).partition(":")
    return getattr(__import__(module, fromlist=[name]), name)


def sandbox_spec(env_id: str) -> SandboxSpec | None:
    """The sandbox an env id's class declares; None for an env that runs in none (not a selfgym env)."""
    return getattr(env_class(env_id), "sandbox_spec", None)


def _sandbox_of(env_id: str, env_kwargs: Mapping[str, Any] | None) -> tuple[SandboxSpec, str | None, Limits]:
    """The env's declared sandbox, and the image tag and limits its kwargs (``image``, ``limits``) override."""
    spec = sandbox_spec(env_id)
    if spec is None:
        raise ValueError(f"{env_id!r} declares no sandbox (it is not a selfgym env)")
    env_kwargs = env_kwargs or {}
    limits = env_kwargs.get("limits") or spec.limits
    return spec, env_kwargs.get("image"), Limits.of(limits)


def pool_for(env_id: str, size: int, env_kwargs: Mapping[str, Any] | None = None, **pool_kwargs: Any
             ) -> SandboxPool:
    """A pool of ``size`` sandboxes for envs of ``env_id``: the image and limits its class declares, overridden
    by ``image`` and ``limits`` in ``env_kwargs`` (what ``gym.make`` would get, e.g. from an experiment file).
    ``pool_kwargs`` go to :class:`~selfgym.sandbox.SandboxPool` (``warm=0`` starts containers only on demand).
    ``ImageNotFoundError`` naming ``selfgym sandbox build <name>`` when the image is not built."""
    from ..sandbox import SandboxPool, docker_client

    spec, image, limits = _sandbox_of(env_id, env_kwargs)
    client = pool_kwargs.pop("client", None) or docker_client()
    return SandboxPool(image or spec.built_tag(client), size=size, limits=limits, client=client, **pool_kwargs)


class EnvPools:
    """One :class:`~selfgym.sandbox.SandboxPool` of ``size`` per sandbox the envs played need (an image and its
    limits, as each env declares or its kwargs say), made on first use and shared by every env that needs the
    same; thread-safe. :meth:`close` closes them all."""

    def __init__(self, size: int, *, client=None) -> None:
        import threading

        self.size = size
        self.client = client
        self._pools: dict[tuple, SandboxPool] = {}
        self._lock = threading.Lock()

    def get(self, env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> SandboxPool:
        """The pool for envs of ``env_id`` made with ``env_kwargs``."""
        spec, image, limits = _sandbox_of(env_id, env_kwargs)
        key = (image or spec.image, limits)
        with self._lock:
            if key not in self._pools:
                self._pools[key] = pool_for(env_id, self.size, env_kwargs, client=self.client)
            return self._pools[key]

    @property
    def images(self) -> list[str]:
        """The tags of the images the pools made so far run."""
        return [pool.image for pool in self._pools.values()]

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def env_pool(env_id: str, size: int, env_kwargs: Mapping[str, Any] | None, *, docker_host: str | None = None,
             docker_cert_path: str | None = None) -> SandboxPool | None:
    """A pool of ``size`` sandboxes for envs of ``env_id``, started on demand, on the named Docker engine
    (None: ``DOCKER_HOST``); None for an env that declares no sandbox."""
    if sandbox_spec(env_id) is None:
        return None
    from ..sandbox import docker_client

    client = docker_client(host=docker_host, cert_path=docker_cert_path)
    return pool_for(env_id, size, env_kwargs, warm=0, client=client)


def make_env(env_id: str, env_kwargs: Mapping[str, Any] | None, pool: SandboxPool | None) -> gym.Env:
    """An env of ``env_id`` on ``pool`` (when it has one), without Gymnasium's wrappers."""
    import selfgym  # noqa: F401 - registers the ids (in a fresh worker process too)

    pool_kwargs = {"pool": pool} if pool is not None else {}
    return gym.make(env_id, **pool_kwargs, **dict(env_kwargs or {})).unwrapped


def make_env_set(env_id: str, n: int, env_kwargs: Mapping[str, Any] | None = None, *,
                 docker_host: str | None = None, docker_cert_path: str | None = None
                 ) -> tuple[list[gym.Env], SandboxPool | None]:
    """``n`` envs of ``env_id`` in this process, sharing one pool (also returned; None for an env that needs
    none)."""
    pool = env_pool(env_id, n, env_kwargs, docker_host=docker_host, docker_cert_path=docker_cert_path)
    try:
        return [make_env(env_id, env_kwargs, pool) for _ in range(n)], pool
    except BaseException:
        if pool is not None:
            pool.close()
        raise
