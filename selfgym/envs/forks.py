"""Forks of an episode: the saved state of a selfgym env, and putting it back into an env (wrapped or not).

A :class:`TextEnv` saves the point an episode has reached with ``env.unwrapped.clone_state()`` (an :class:`EnvState`,
as Gymnasium's ALE envs name it), puts it back with ``restore_state(state)`` (into the same env or another env of
the same class and settings) and branches with ``fork()``: a new, independent env in the same state, whose sandbox
comes from the same pool. How each env saves what lives in its sandbox is its own (see ``TextEnv._save_episode``):

* ``"none"``: nothing in the sandbox matters between steps (Code-v0: every attempt runs in a fresh episode).
* ``"files"``: the files of the sandbox's episode, as :meth:`~selfgym.sandbox.Sandbox.snapshot` takes them (Math-v0's
  tool files; Shell-v0's files and its shell's state, which lives in files). Restored into a fresh episode.
* ``"replay"``: a fresh sandbox set up for the task, then the episode's actions played again (their results
  discarded), as the env does when it loses a sandbox. Exact where the env is deterministic; used where state lives in
  processes (Shell-v0 tasks that keep background processes, Harbor tasks in their own containers, MiniWoB++ pages).
* ``"web"``: Web-v0 site tasks: the sites' databases, the browser's cookies, history, page, scroll position, form
  fields and the ids shown for its elements (see :mod:`selfgym.envs.web.fork`).

The state is the server's business, never the agent's: it holds the task (hidden tests, answers) and files the
verifier wrote, so an env server keeps it and gives its client only a handle (see :mod:`selfgym.envs.remote.forks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym

from .task import Task


Kind = Literal["none", "files", "replay", "web"]


@dataclass(frozen=True)
class EnvState:
    """One point of one episode of an env class (opaque: pass it to ``restore_state``).

    ``steps`` actions were taken (``history`` holds the well-formed ones, in order); ``kind`` says how the
    sandbox's part is kept (see the module docstring) and ``sandbox`` holds it (a files archive, a dict of the web
    state, or ``None``); ``fields`` are the env's own attributes of the episode (its conversation and tool state).
    """

    env_class: str
    task: Task
    steps: int
    done: bool
    transcript: tuple[tuple[str, str], ...]
    history: tuple[str, ...]
    infra_events: tuple[dict[str, Any], ...]
    rng: Any  # the env's np_random (a Generator, copied) and the seed it was made from
    fields: Mapping[str, Any]
    kind: Kind
    sandbox: Any = None
    notes: tuple[str, ...] = field(default=())  # what the restore cannot keep (e.g. background processes)

    @property
    def nbytes(self) -> int:
        """The size of the sandbox's part, in bytes: a files archive, or the sites' databases of a web state."""
        if isinstance(self.sandbox, (bytes, bytearray)):
            return len(self.sandbox)
        if isinstance(self.sandbox, Mapping):
            return sum(len(data) for data in self.sandbox.get("databases", {}).values())
        return 0


def restore_into(env: gym.Env, state: EnvState) -> None:
    """``state`` put back into ``env``, a selfgym env under any Gymnasium wrappers: the wrappers that count steps or
    enforce the order of calls are told an episode of ``state.steps`` steps is under way."""
    env.unwrapped.restore_state(state)
    layer = env
    while isinstance(layer, gym.Wrapper):
        if hasattr(layer, "_has_reset"):  # OrderEnforcing
            layer._has_reset = True
        if hasattr(layer, "_elapsed_steps"):  # TimeLimit
            layer._elapsed_steps = state.steps
        layer = layer.env


def step_from(env: gym.Env, state: EnvState, action: Any) -> tuple[str, float, bool, dict[str, Any], EnvState | None]:
    """``action`` played from ``state`` in ``env`` (a branch of a search): the observation, the reward, whether the
    episode ended there, the info, and the state after it (None once ended). An
    :class:`~selfgym.sandbox.InfrastructureError` is the caller's to replay."""
    restore_into(env, state)
    observation, reward, terminated, truncated, info = env.step(action)
    ended = bool(terminated or truncated)
    return observation, float(reward), ended, info, None if ended else env.unwrapped.clone_state()


def fork(env: gym.Env) -> gym.Env:
    """``env.unwrapped.fork()``: an independent unwrapped env in the state ``env`` has reached."""
    return env.unwrapped.fork()
