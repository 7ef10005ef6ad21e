"""Gymnasium ids of selfgym; :mod:`selfgym` calls :func:`register_envs` on import."""

from __future__ import annotations

import gymnasium as gym

ENV_IDS = {
    "selfgym/Code-v0": "selfgym.envs.code_env:CodeEnv",
    "selfgym/Shell-v0": "selfgym.envs.shell_env:ShellEnv",
    "selfgym/Math-v0": "selfgym.envs.math_env:MathEnv",
    "selfgym/Web-v0": "selfgym.envs.web_env:WebEnv",
    "selfgym/Remote-v0": "selfgym.envs.remote.client:RemoteEnv",  # any OpenEnv server: gym.make(..., url=...)
}


def register_envs() -> None:
    """Register every selfgym id (idempotent)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, disable_env_checker=True)
