"""Playing episodes: one env and one policy (``rollout``), or many envs in lockstep with batched generation
(``rollout_batch``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym

from ..envs.task import Task
from ..sandbox.errors import InfrastructureError
from .policy import Completion, ContextLengthError, Policy, Sampling
from .trajectory import Step, Trajectory

DEFAULT_SYSTEM_PROMPT = (
    "You are an agent solving a task in an environment. Read each observation and reply with your next action "
    "exactly in the format the task asks for."
)


class _Episode:
    """The state of one episode being played: its env, conversation and steps so far.

    ``stopped`` says why an episode ended before its env ended it: its conversation outgrew the model's
    context (the agent's failure). ``error`` says why it could not be played on: its env raised
    :class:`~selfgym.sandbox.InfrastructureError` (not the agent's failure).
    """

    def __init__(self, env: gym.Env, task: Task | None, seed: int | None, system_prompt: str | None) -> None:
        self.env = env
        self.seed = seed
        self.task = task
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        self.steps: list[Step] = []
        self.done = False
        self.stopped: str | None = None
        self.error: str | None = None

    def start(self, first_message_prefix: str = "") -> None:
        options = {"task": self.task} if self.task is not None else None
        observation, _ = self.env.reset(seed=self.seed, options=options)
        self.task = self.env.unwrapped.task
        self.messages.append({"role": "user", "content": first_message_prefix + observation})

    def play(self, completion: Completion) -> None:
        self.messages.append({"role": "assistant", "content": completion.text})
        start = time.perf_counter()
        observation, reward, terminated, truncated, info = self.env.step(completion.text)
        self.steps.append(Step(completion.text, observation, float(reward), bool(terminated), bool(truncated),
                               dict(info), completion.prompt_tokens, completion.completion_tokens,
                               completion.seconds, time.perf_counter() - start))
        self.messages.append({"role": "user", "content": observation})
        self.done = bool(terminated or truncated)

    def stop(self, reason: str) -> None:
        self.done = True
        self.stopped = reason

    def trajectory(self, meta: dict[str, Any]) -> Trajectory:
        if self.stopped is not None:
            meta = {**meta, "stopped": self.stopped}
        if self.error is not None:
            meta = {**meta, "error": self.error}
        return Trajectory(self.task, self.messages, self.steps, self.seed, meta)


def rollout(env: gym.Env, policy: Policy, task: Task | None = None, *, seed: int | None = None,
            system_prompt: str | None = DEFAULT_SYSTEM_PROMPT, sampling: Sampling | None = None,
            first_message_prefix: str = "", max_turns: int | None = None,
            meta: dict[str, Any] | None = None, record_errors: bool = False) -> Trajectory:
    """Play one episode of ``env`` with ``policy``: on ``task`` if given, else the task the env draws with
    ``seed``. Ends when the env terminates or truncates (its step budget), after ``max_turns`` actions, or when
    the conversation no longer fits the model's context (``meta["stopped"]`` says so).
    ``first_message_prefix`` is put before the first observation (Reflexion puts its memory there)."""
    return rollout_batch([env], policy, [task], seeds=[seed], system_prompt=system_prompt, sampling=sampling,
                         first_message_prefixes=[first_message_prefix], max_turns=max_turns, meta=meta,
                         record_errors=record_errors)[0]


def rollout_batch(envs: Sequence[gym.Env], policy: Policy, tasks: Sequence[Task | None] | None = None, *,
                  seeds: Sequence[int | None] | None = None, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
                  sampling: Sampling | None = None, first_message_prefixes: Sequence[str] | None = None,
                  max_turns: int | None = None, meta: dict[str, Any] | None = None,
                  record_errors: bool = False) -> list[Trajectory]:
    """Play one episode in each env at once: every turn, the replies of all unfinished episodes are generated
    in one batch (``policy.act_batch_with_info``) and the envs step in parallel threads (sandbox calls release
    the GIL). Envs may share one :class:`~selfgym.sandbox.SandboxPool`. Returns one trajectory per env, in order.

    An episode whose conversation no longer fits the model's context ends there, a failure of the agent
    (``meta["stopped"]`` says why); the others go on. An env that raises
    :class:`~selfgym.sandbox.InfrastructureError` (its sandbox was lost for reasons outside the agent) fails
    the call, unless ``record_errors``: then that episode ends with ``meta["error"]`` saying why (it needs a
    given ``task``), and the others go on.
    """
    n = len(envs)
    tasks = list(tasks) if tasks is not None else [None] * n
    seeds = list(seeds) if seeds is not None else [None] * n
    prefixes = list(first_message_prefixes) if first_message_prefixes is not None else [""] * n
    if not len(tasks) == len(seeds) == len(prefixes) == n:
        raise ValueError(f"got {n} envs but {len(tasks)} tasks, {len(seeds)} seeds, {len(prefixes)} prefixes")
    episodes = [_Episode(envs[i], tasks[i], seeds[i], system_prompt) for i in range(n)]

    def guarded(episode: _Episode, action, *args) -> None:
        try:
            action(*args)
        except InfrastructureError as error:
            if not record_errors or episode.task is None:
                raise
            episode.error = str(error)
            episode.done = True

    with ThreadPoolExecutor(max_workers=max(1, n)) as threads:
        list(threads.map(lambda i: guarded(episodes[i], episodes[i].start, prefixes[i]), range(n)))
        turn = 0
        while True:
            if max_turns is not None and turn >= max_turns:
                break
            replies = _replies(policy, [e for e in episodes if not e.done], sampling)
            if not replies:
                break
            list(threads.map(lambda pair: guarded(pair[0], pair[0].play, pair[1]), replies))
            turn += 1
    base_meta = {"policy": getattr(policy, "name", type(policy).__name__), **(meta or {})}
    return [episode.trajectory(base_meta) for episode in episodes]


def _replies(policy: Policy, active: list[_Episode], sampling: Sampling | None) -> list[tuple[_Episode, Completion]]:
    """The next reply of each active episode, in one batch; episodes whose conversation does not fit the
    model's context are stopped instead (and left out)."""
    while active:
        try:
            completions = policy.act_batch_with_info([e.messages for e in active], sampling)
            return list(zip(active, completions, strict=True))
        except ContextLengthError as error:
            if error.indices is None and len(active) > 1:  # the backend cannot say which: ask one at a time
                return [pair for episode in active for pair in _replies(policy, [episode], sampling)]
            too_long = set(error.indices) if error.indices is not None else {0}
            for i in sorted(too_long):
                active[i].stop(f"context length: the conversation no longer fits the model ({error})")
            if error.completions is not None:
                return [(e, c) for i, (e, c) in enumerate(zip(active, error.completions, strict=True))
                        if i not in too_long]
            active = [e for i, e in enumerate(active) if i not in too_long]
    return []


def rollout_many(envs: Sequence[gym.Env], policy: Policy, tasks: Sequence[Task | None], *,
                 seeds: Sequence[int | None] | None = None, first_message_prefixes: Sequence[str] | None = None,
                 **kwargs: Any) -> list[Trajectory]:
    """One episode per task, for any number of tasks: :func:`rollout_batch` on ``len(envs)`` of them at a time.
    Other keyword arguments go to every :func:`rollout_batch` call. Returns the trajectories in task order."""
    if not envs:
        raise ValueError("rollout_many needs at least one env")
    seeds = list(seeds) if seeds is not None else [None] * len(tasks)
    prefixes = list(first_message_prefixes) if first_message_prefixes is not None else [""] * len(tasks)
    trajectories: list[Trajectory] = []
    for start in range(0, len(tasks), len(envs)):
        stop = start + len(envs)
        chunk = list(tasks[start:stop])
        trajectories += rollout_batch(envs[:len(chunk)], policy, chunk, seeds=seeds[start:stop],
                                      first_message_prefixes=prefixes[start:stop], **kwargs)
    return trajectories
