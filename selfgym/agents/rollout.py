"""Playing episodes: one env and one policy (``rollout``), or many envs in lockstep with batched generation
(``rollout_batch``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import gymnasium as gym

from ..envs.task import Task
from ..sandbox import InfrastructureError
from .policy import Completion, ContextLengthError, Policy, Sampling
from .trajectory import Step, Trajectory

R = TypeVar("R")
INFRA_REPLAYS = 2  # an episode lost to the infrastructure is played again this many times, then kept as an error
DEFAULT_SYSTEM_PROMPT = (
    "You are an agent solving a task in an environment. Read each observation and reply with your next action "
    "exactly in the format the task asks for."
)


class EpisodeState:
    """The state of one episode being played: its env, conversation and steps so far.

    An :class:`~selfgym.sandbox.InfrastructureError` from the env ends the episode with ``error`` set (the others
    of a batch play on): what it was is no result of the agent's. A conversation that outgrows the model's context
    ends it with ``stopped`` saying so: the agent's failure. Subclasses record more of each turn (GRPO's token ids,
    :class:`selfgym.agents.grpo.TokenEpisodeState`).

    With ``tools``, the policy is offered the env's tools (``tool_schemas()``) and each tool call of a reply is
    one env step, answered by a ``tool`` message; a reply without one is a text action, answered by a ``user``
    message."""

    def __init__(self, env: gym.Env, task: Task | None, seed: int | None, system_prompt: str | None,
                 first_message_prefix: str = "", tools: bool = False) -> None:
        self.env = env
        self.seed = seed
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        self.steps: list[Step] = []
        self.error: str | None = None
        self.stopped: str | None = None
        self.done = False
        self.tools: list[dict[str, Any]] | None = None
        options = {"task": task} if task is not None else None
        try:
            observation, _ = env.reset(seed=seed, options=options)
        except InfrastructureError as exc:
            self.task = task if task is not None else env.unwrapped.task
            self.error, self.done = str(exc), True
            return
        finally:
            # where an env worker plays it (a RemoteEnv's worker, node, pid); None for an env of this process
            self.placement: dict[str, Any] | None = getattr(env.unwrapped, "placement", None)
        self.task: Task = env.unwrapped.task
        self.tools = env.unwrapped.tool_schemas() if tools else None
        self.messages.append({"role": "user", "content": first_message_prefix + observation})

    def play(self, completion: Completion) -> None:
        """Step the env with the reply; the episode is ``done`` when it terminates, truncates or is lost."""
        self.messages.append(completion.message() if self.tools else {"role": "assistant", "content": completion.text})
        if not (self.tools and completion.tool_calls):
            observation = self._step(completion.text, completion.text, completion)
            if observation is not None:
                self.messages.append({"role": "user", "content": observation})
            return
        for number, call in enumerate(completion.tool_calls):
            if self.done:
                break
            action = {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}
            cost = completion if number == 0 else Completion("")  # the reply's tokens and time count once
            observation = self._step(action, json.dumps(action), cost)
            if observation is not None:
                self.messages.append({"role": "tool", "tool_call_id": call["id"], "name": action["name"],
                                      "content": observation})

    def _step(self, action: Any, shown: str, completion: Completion) -> str | None:
        """One env step (``completion``: what it cost the policy); its observation, or None when the episode
        was lost."""
        start = time.perf_counter()
        try:
            observation, reward, terminated, truncated, info = self.env.step(action)
        except InfrastructureError as exc:
            self.error, self.done = str(exc), True
            return None
        self.steps.append(Step(shown, observation, float(reward), bool(terminated), bool(truncated),
                               dict(info), completion.prompt_tokens, completion.completion_tokens,
                               completion.seconds, time.perf_counter() - start))
        self.done = bool(terminated or truncated)
        return observation

    def stop(self, reason: str) -> None:
        """End the episode before the env does (``reason`` goes to the trajectory's ``meta["stopped"]``)."""
        self.stopped, self.done = reason, True

    def trajectory(self, meta: dict[str, Any]) -> Trajectory:
        meta = {**meta, "stopped": self.stopped} if self.stopped is not None else dict(meta)
        if self.placement is not None:
            meta["worker"] = dict(self.placement)
        return Trajectory(self.task, self.messages, self.steps, self.seed, meta, self.error)


def env_class_of(env: gym.Env) -> type:
    """The class of the env that plays, whose class methods (reference and canonical replies, task signatures)
    apply: ``type(env.unwrapped)``, or for an env that runs elsewhere (a
    :class:`~selfgym.runtime.env_workers.WorkerEnv`) the class it runs as there."""
    unwrapped = env.unwrapped
    return getattr(unwrapped, "remote_class", None) or type(unwrapped)


def play_lockstep(episodes: Sequence[EpisodeState],
                  generate: Callable[[list[EpisodeState]], list[Completion | None]],
                  threads: ThreadPoolExecutor, *, max_turns: int | None = None,
                  before_turn: Callable[[EpisodeState], None] | None = None) -> None:
    """Play ``episodes`` to their ends: every turn, ``generate`` the replies of the unfinished ones in one batch,
    then step their envs in ``threads`` (sandbox calls release the GIL). ``before_turn`` may end an episode
    before its turn (RL rollouts end one whose next reply would not fit its token budget); ``generate`` may
    stop one instead of replying to it (None: see :func:`generate_replies`)."""
    turn = 0
    while max_turns is None or turn < max_turns:
        if before_turn is not None:
            for episode in episodes:
                if not episode.done:
                    before_turn(episode)
        active = [episode for episode in episodes if not episode.done]
        if not active:
            return
        replies = [(e, c) for e, c in zip(active, generate(active), strict=True) if c is not None]
        list(threads.map(lambda pair: pair[0].play(pair[1]), replies))
        turn += 1


def rollout(env: gym.Env, policy: Policy, task: Task | None = None, *, seed: int | None = None,
            system_prompt: str | None = DEFAULT_SYSTEM_PROMPT, sampling: Sampling | None = None,
            first_message_prefix: str = "", max_turns: int | None = None,
            meta: dict[str, Any] | None = None, tools: bool = False) -> Trajectory:
    """Play one episode of ``env`` with ``policy``: on ``task`` if given, else the task the env draws with
    ``seed``. Ends when the env terminates or truncates (its step budget), after ``max_turns`` actions, or when
    the conversation no longer fits the model's context (``meta["stopped"]`` says so).
    ``first_message_prefix`` is put before the first observation (Reflexion puts its memory there). With
    ``tools``, the policy may act by calling the env's tools (see :class:`EpisodeState`)."""
    return rollout_batch([env], policy, [task], seeds=[seed], system_prompt=system_prompt, sampling=sampling,
                         first_message_prefixes=[first_message_prefix], max_turns=max_turns, meta=meta,
                         tools=tools)[0]


def rollout_batch(envs: Sequence[gym.Env], policy: Policy, tasks: Sequence[Task | None] | None = None, *,
                  seeds: Sequence[int | None] | None = None, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
                  sampling: Sampling | None = None, first_message_prefixes: Sequence[str] | None = None,
                  max_turns: int | None = None, meta: dict[str, Any] | None = None,
                  tools: bool = False) -> list[Trajectory]:
    """Play one episode in each env at once: every turn, the replies of all unfinished episodes are generated
    in one batch (``policy.act_batch_with_info``) and the envs step in parallel threads (sandbox calls release
    the GIL). Envs may share one :class:`~selfgym.sandbox.SandboxPool`. Returns one trajectory per env, in order.
    An episode lost to the infrastructure has ``error`` set; one whose conversation outgrew the model's context
    ends there, a failure with ``meta["stopped"]`` saying why; the others play on. ``tools``: as :func:`rollout`.
    """
    n = len(envs)
    tasks = list(tasks) if tasks is not None else [None] * n
    seeds = list(seeds) if seeds is not None else [None] * n
    prefixes = list(first_message_prefixes) if first_message_prefixes is not None else [""] * n
    if not len(tasks) == len(seeds) == len(prefixes) == n:
        raise ValueError(f"got {n} envs but {len(tasks)} tasks, {len(seeds)} seeds, {len(prefixes)} prefixes")
    with ThreadPoolExecutor(max_workers=max(1, n)) as threads:
        episodes = list(threads.map(
            lambda i: EpisodeState(envs[i], tasks[i], seeds[i], system_prompt, prefixes[i], tools), range(n)))
        for episode in episodes:
            policy.expect(env_class_of(episode.env), episode.task)
        play_lockstep(episodes, lambda active: generate_replies(policy, active, sampling), threads,
                      max_turns=max_turns)
    base_meta = {"policy": getattr(policy, "name", type(policy).__name__), **(meta or {})}
    return [episode.trajectory(base_meta) for episode in episodes]


def fitting_replies(policy: Policy, conversations: Sequence[Sequence[Mapping[str, Any]]], sampling: Sampling | None,
                    *, tools: Sequence[Mapping[str, Any]] | None = None,
                    on_too_long: Callable[[int, ContextLengthError], None] | None = None) -> list[Completion | None]:
    """One reply per conversation, in one batch; None for a conversation that does not fit the model's context
    (``on_too_long(index, error)`` is told of each), the others answered all the same."""
    if not conversations:
        return []
    try:
        return policy.act_batch_with_info(conversations, sampling, tools=tools)
    except ContextLengthError as error:
        def told(positions: Sequence[int]) -> Callable[[int, ContextLengthError], None] | None:
            return None if on_too_long is None else (lambda i, e: on_too_long(positions[i], e))

        if error.indices is None and len(conversations) > 1:  # the backend cannot say which: ask one at a time
            return [reply for i, conversation in enumerate(conversations)
                    for reply in fitting_replies(policy, [conversation], sampling, tools=tools, on_too_long=told([i]))]
        too_long = set(error.indices) if error.indices is not None else {0}
        for i in sorted(too_long):
            if on_too_long is not None:
                on_too_long(i, error)
        if error.completions is not None:  # the backend answered the others anyway
            return error.completions
        rest = [i for i in range(len(conversations)) if i not in too_long]
        replies = iter(fitting_replies(policy, [conversations[i] for i in rest], sampling, tools=tools,
                                       on_too_long=told(rest)) if rest else [])
        return [None if i in too_long else next(replies) for i in range(len(conversations))]


def generate_replies(policy: Policy, active: list[EpisodeState], sampling: Sampling | None
                     ) -> list[Completion | None]:
    """The next reply of each episode of ``active``, in one batch. An episode whose conversation does not fit
    the model's context is stopped instead (None in its place): that is its failure, not the batch's."""
    offered = active[0].tools
    if any(e.tools != offered for e in active):  # envs offering different tools: a batch for each episode
        return [reply for episode in active for reply in generate_replies(policy, [episode], sampling)]

    def stop(index: int, error: ContextLengthError) -> None:
        active[index].stop(f"context length: the conversation no longer fits the model ({error})")

    return fitting_replies(policy, [e.messages for e in active], sampling, tools=offered, on_too_long=stop)


def play_batched(envs: Sequence[gym.Env], n: int, play: Callable[[Sequence[gym.Env], list[int], int], list[R]], *,
                 trajectory_of: Callable[[R], Trajectory] = lambda result: result, replays: int = INFRA_REPLAYS,
                 after_chunk: Callable[[list[R]], None] | None = None) -> list[R]:
    """The one loop that plays jobs ``0..n-1`` on ``envs``, ``len(envs)`` at a time, and the one replay path.

    ``play(envs, jobs, start)`` plays the jobs (indices) on as many of the first envs and returns one result per
    job (a :class:`Trajectory`, or anything ``trajectory_of`` finds one in: GRPO's token episodes); ``start`` is
    the first job of their chunk, what a chunk's shared sampling seed derives from. An episode lost to the
    infrastructure (``error`` set) is played again, same job and chunk, up to ``replays`` times:
    ``meta["infra_replays"]`` counts the replays, ``meta["infra_errors"]`` keeps each loss, and one still lost
    keeps its ``error`` (logged, never counted as the agent's). ``after_chunk`` sees each chunk's results as it
    ends (progress). Returns the results in job order."""
    if not envs:
        raise ValueError("playing episodes needs at least one env")
    results: list[R] = []
    for start in range(0, n, len(envs)):
        jobs = list(range(start, min(n, start + len(envs))))
        played = dict(zip(jobs, play(envs[:len(jobs)], jobs, start), strict=True))
        for replay in range(1, replays + 1):
            lost = [job for job in jobs if trajectory_of(played[job]).error is not None]
            if not lost:
                break
            for job, again in zip(lost, play(envs[:len(lost)], lost, start), strict=True):
                before = trajectory_of(played[job])
                trajectory_of(again).meta.update(
                    infra_replays=replay, infra_errors=[*before.meta.get("infra_errors", []), before.error])
                played[job] = again
        chunk = [played[job] for job in jobs]
        if after_chunk is not None:
            after_chunk(chunk)
        results += chunk
    return results


def rollout_many(envs: Sequence[gym.Env], policy: Policy, tasks: Sequence[Task | None], *,
                 seeds: Sequence[int | None] | None = None, first_message_prefixes: Sequence[str] | None = None,
                 sampling_for: Callable[[int], Sampling | None] | None = None, replays: int = INFRA_REPLAYS,
                 after_chunk: Callable[[list[Trajectory]], None] | None = None, **kwargs: Any) -> list[Trajectory]:
    """One episode per task, for any number of tasks: :func:`rollout_batch` on ``len(envs)`` of them at a time
    (:func:`play_batched`: episodes lost to the infrastructure are played again up to ``replays`` times).
    ``sampling_for(start)``: a chunk's sampling from its first episode's index (default: ``sampling`` of
    ``kwargs`` for all). Other keyword arguments go to every :func:`rollout_batch` call. Returns the
    trajectories in task order."""
    seeds = list(seeds) if seeds is not None else [None] * len(tasks)
    prefixes = list(first_message_prefixes) if first_message_prefixes is not None else [""] * len(tasks)
    if not len(seeds) == len(prefixes) == len(tasks):
        raise ValueError(f"got {len(tasks)} tasks but {len(seeds)} seeds, {len(prefixes)} prefixes")
    if sampling_for is not None:
        kwargs.pop("sampling", None)

    def play(chunk_envs: Sequence[gym.Env], jobs: list[int], start: int) -> list[Trajectory]:
        sampling = {"sampling": sampling_for(start)} if sampling_for is not None else {}
        return rollout_batch(chunk_envs, policy, [tasks[j] for j in jobs], seeds=[seeds[j] for j in jobs],
                             first_message_prefixes=[prefixes[j] for j in jobs], **sampling, **kwargs)

    return play_batched(envs, len(tasks), play, replays=replays, after_chunk=after_chunk)
