"""The audit as a gate for one task at a time: what a curriculum puts every task it writes through."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym

from ..task import Task
from .base import Battery, Finding, TaskAudit, audit_task, default_batteries

NO_BATTERY = "no-battery"


class TaskAuditor:
    """``auditor(task) -> TaskAudit``: plays the batteries against one task on an env kept between calls.

    Args:
        env: an env id (made with ``env_kwargs``), or a factory of envs.
        batteries: default: every battery present (:func:`~selfgym.envs.audit.default_batteries`).
        seed: every episode's reset seed.

    A task no battery can attack is ``broken`` (finding ``no-battery``): nothing vouches for it. An env whose
    episode raised is closed and a fresh one made for the next task. Call :meth:`close` when done.
    """

    def __init__(self, env: str | Callable[[], gym.Env], *, batteries: Sequence[Battery] | None = None,
                 env_kwargs: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        if isinstance(env, str):
            kwargs = dict(env_kwargs or {})
            self._factory: Callable[[], gym.Env] = lambda: gym.make(env, **kwargs)
        elif callable(env):
            if env_kwargs:
                raise ValueError("env_kwargs go with an env id; pass them to your factory instead")
            self._factory = env
        else:
            raise TypeError(f"env must be an env id or a factory of envs, not {type(env).__name__}")
        self._batteries = list(batteries) if batteries is not None else None
        self.seed = seed
        self._env: gym.Env | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> TaskAuditor | Callable[[Task], TaskAudit]:
        """An auditor from what a YAML file can say: an env id (``selfgym/Shell-v0``), or ``{env: ID, env_kwargs:
        {...}, seed: N}``; a callable is returned as it is."""
        if isinstance(spec, str):
            return cls(spec)
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"env", "env_kwargs", "seed"}
            if "env" not in spec or unknown:
                raise ValueError(f"an audit spec is an env id or {{env, env_kwargs, seed}}; got keys {sorted(spec)}")
            return cls(spec["env"], env_kwargs=spec.get("env_kwargs"), seed=int(spec.get("seed", 0)))
        if callable(spec):
            return spec
        raise TypeError(f"audit must be an env id, a mapping or a callable, not {type(spec).__name__}")

    @property
    def batteries(self) -> list[Battery]:
        if self._batteries is None:
            self._batteries = default_batteries()
        return self._batteries

    def __call__(self, task: Task) -> TaskAudit:
        if self._env is None:
            self._env = self._factory()
        try:
            audit = audit_task(self._env, task, self.batteries, seed=self.seed)
        except ValueError as exc:  # no battery applies: the task cannot be vouched for
            return TaskAudit(task.id, task.family, "broken",
                             [Finding(NO_BATTERY, "pass", 0.0, (), "no battery can attack this task", str(exc))],
                             task=task)
        if any(finding.error for finding in audit.findings):
            self._env.close()  # an episode raised: the next task gets an env in a known state
            self._env = None
        return audit

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
