"""Sandbox pools made from what an env declares (``sandbox_spec``), for code that runs many envs of an id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from ..sandbox import Limits, SandboxPool, SandboxSpec, docker_client


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


def pool_for(env_id: str, size: int, env_kwargs: Mapping[str, Any] | None = None, **pool_kwargs: Any
             ) -> SandboxPool:
    """A pool of ``size`` sandboxes for envs of ``env_id``: the image and limits its class declares, overridden
    by ``image`` and ``limits`` in ``env_kwargs`` (what ``gym.make`` would get, e.g. from an experiment file).
    ``ImageNotFoundError`` naming ``selfgym sandbox build <name>`` when the image is not built."""
    spec = sandbox_spec(env_id)
    if spec is None:
        raise ValueError(f"{env_id!r} declares no sandbox (it is not a selfgym env)")
    env_kwargs = env_kwargs or {}
    limits = env_kwargs.get("limits") or spec.limits
    if isinstance(limits, Mapping):
        limits = Limits(**limits)
    client = pool_kwargs.pop("client", None) or docker_client()
    return SandboxPool(env_kwargs.get("image") or spec.built_tag(client), size=size, limits=limits, client=client,
                       **pool_kwargs)
