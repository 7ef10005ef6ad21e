"""Sandbox pools made from what an env declares (``sandbox_spec``), for code that runs many envs of an id."""

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
    return spec, env_kwargs.get("image"), Limits(**limits) if isinstance(limits, Mapping) else limits


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
