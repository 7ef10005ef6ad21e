"""Self-Debugging (Chen et al., 2023): the model debugs its own code from feedback, inside one episode.

One Code-v0 episode of ``turns`` attempts. After a failed attempt the model reads feedback in one of the paper's
modes (:class:`SelfDebuggingConfig`'s ``feedback``) and writes the next attempt:

* ``simple``: only that the code is wrong ("The code above is wrong. Please fix it."); the execution results are
  withheld. A reply with no runnable code still hears what was expected (that is about the answer's form, and
  the same in every mode).
* ``unit-test``: the env's feedback as Code-v0 gives it: the failing visible tests with the function's output,
  the exception and traceback. Hidden tests are only counted, never quoted (Code-v0's rule, kept here: the
  method shows nothing the env did not).
* ``explanation`` ("rubber duck"): the unit-test feedback, then, in a turn of its own, the model explains its code
  line by line and follows a failing test through it; then it is asked for the fix.
* ``trace``: the unit-test feedback, then the model traces a failing test's execution line by line with the
  variables' values (the paper's execution-trace feedback, written by the model); then the fix.

The explanation is the model's own turn: it is in the conversation (``messages``) but is not an env step; only the
fix is played in the env, so every mode uses the same number of env attempts. Its cost is counted in the fix's
step (tokens, seconds) and the text kept in ``meta["explanations"]``. Episodes play in lockstep, ``len(envs)`` at
a time: each turn, every explanation is generated in one batch, then every fix in another.

Example::

    envs = [gym.make("selfgym/Code-v0", max_steps=3) for _ in range(8)]
    debugger = SelfDebugging(HFPolicy("smollm2"), SelfDebuggingConfig(feedback="explanation", turns=3))
    trajectories = debugger.run(envs, tasks)
    SelfDebugging.success_by_attempt(trajectories, 3)  # shape (3,): solved at or before attempt 1, 2, 3
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from ..envs.task import Task
from ..params import AtLeastOne, documented as _f
from .policy import Completion, Policy, Sampling
from .rollout import (DEFAULT_SYSTEM_PROMPT, EpisodeState, env_class_of, generate_replies, play_batched,
                      play_lockstep)
from .trajectory import Trajectory

FeedbackMode = Literal["simple", "unit-test", "explanation", "trace"]
FEEDBACK_MODES: tuple[str, ...] = ("simple", "unit-test", "explanation", "trace")

SIMPLE_FEEDBACK = ("The code above is wrong. Please fix it: reply with the complete corrected function in a "
                   "```python code block.")
EXPLAIN_REQUESTS = {
    "explanation": "Before fixing it, explain your code line by line: what each line does. Then take one failing "
                   "test above and follow what your code does on its input, step by step, to the wrong result, "
                   "and say which line is wrong and why. Do not write the corrected code yet.",
    "trace": "Before fixing it, trace your code's execution on the input of one failing test above: go through "
             "it line by line and write the value of every variable after each line, up to the result. Then say "
             "where it goes wrong. Do not write the corrected code yet.",
}
FIX_REQUEST = "Now fix the code: reply with the complete corrected function in a ```python code block."
# Code-v0's ``info["error"]`` for a reply it could not run: there is no execution to explain or withhold
NOT_RUN = frozenset({"empty", "no_code", "syntax_error", "missing_entry_point"})


@dataclass(frozen=True)
class SelfDebuggingConfig:
    """Hyper-parameters of Self-Debugging. An experiment file's ``method: {name: self-debugging, ...}`` is
    generated from this class (same fields, types, defaults, help), less what the run sets itself."""

    feedback: FeedbackMode = _f("unit-test", "what the model reads after a failed attempt: simple (only that it "
                                             "is wrong), unit-test (the env's test results), explanation (test "
                                             "results, then it explains its code line by line), trace (test "
                                             "results, then it traces a failing test's execution)")
    turns: AtLeastOne = _f(3, "env attempts per task, the first included (at most the env's max_steps)")
    explanation_tokens: AtLeastOne = _f(256, "most new tokens of an explanation or trace turn")
    sampling: Sampling | None = _f(None, "how attempts are sampled (None: the policy's own); explanations too, "
                                         "with explanation_tokens")
    system_prompt: str | None = _f(DEFAULT_SYSTEM_PROMPT, "the episodes' system message (None: none)")

    def __post_init__(self) -> None:
        if self.feedback not in FEEDBACK_MODES:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_MODES)}, got {self.feedback!r}")
        if self.turns < 1 or self.explanation_tokens < 1:
            raise ValueError(f"turns and explanation_tokens must be >= 1, got {self.turns}, "
                             f"{self.explanation_tokens}")


class DebugEpisode(EpisodeState):
    """An episode with the explanations written in it: ``{"attempt": k, "text": ...}``, written after attempt
    ``k - 1`` failed and before attempt ``k``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.explanations: list[dict[str, Any]] = []
        self.cost: Completion | None = None  # the explanation of this turn, counted in the fix's step

    def ran_code(self) -> bool:
        """Whether the last attempt's code was run (an env without ``info["error"]`` ran whatever it got)."""
        return self.steps[-1].info.get("error") not in NOT_RUN


class SelfDebugging:
    """Plays Self-Debugging episodes with ``policy``: ``run(envs, tasks)`` returns one :class:`Trajectory` per
    task, in order, each of at most ``config.turns`` attempts (an episode ends when solved)."""

    def __init__(self, policy: Policy, config: SelfDebuggingConfig | None = None) -> None:
        self.policy = policy
        self.config = config or SelfDebuggingConfig()

    def run(self, envs: Sequence[gym.Env], tasks: Sequence[Task], *, seeds: Sequence[int | None] | None = None,
            sampling_for: Callable[[int], Sampling | None] | None = None,
            after_chunk: Callable[[list[Trajectory]], None] | None = None) -> list[Trajectory]:
        """One episode per task on ``envs``, ``len(envs)`` at a time (episodes lost to the infrastructure are
        played again, as :func:`~selfgym.agents.rollout.play_batched` does). ``seeds``: the episodes' reset seeds
        (default 0); ``sampling_for(start)``: a chunk's sampling from its first task's index (default:
        ``config.sampling``); ``after_chunk`` sees each chunk's trajectories as it ends."""
        if not envs:
            raise ValueError("SelfDebugging.run needs at least one env")
        for env in envs:
            max_steps = getattr(env.unwrapped, "max_steps", None)
            if isinstance(max_steps, int) and max_steps < self.config.turns:
                raise ValueError(f"the env allows {max_steps} attempt(s) per episode but Self-Debugging plays "
                                 f"turns={self.config.turns}: make the env with max_steps={self.config.turns} "
                                 f"or lower turns")
        seeds = list(seeds) if seeds is not None else [0] * len(tasks)
        if len(seeds) != len(tasks):
            raise ValueError(f"got {len(tasks)} tasks but {len(seeds)} seeds")
        meta = {"policy": getattr(self.policy, "name", type(self.policy).__name__), "method": "self-debugging",
                "feedback": self.config.feedback, "turns": self.config.turns}

        def play(chunk_envs: Sequence[gym.Env], jobs: list[int], start: int) -> list[Trajectory]:
            sampling = self.policy.resolve_sampling(sampling_for(start) if sampling_for else self.config.sampling)
            with ThreadPoolExecutor(max_workers=len(jobs)) as threads:
                episodes = list(threads.map(lambda pair: DebugEpisode(
                    pair[0], tasks[pair[1]], seeds[pair[1]], self.config.system_prompt), zip(chunk_envs, jobs)))
                for episode in episodes:
                    if episode.error is None:
                        self.policy.expect(env_class_of(episode.env), episode.task)
                play_lockstep(episodes, lambda active: self._replies(active, sampling), threads,
                              max_turns=self.config.turns)
            return [self._trajectory(episode, meta) for episode in episodes]

        return play_batched(envs, len(tasks), play, after_chunk=after_chunk)

    def _replies(self, active: list[DebugEpisode], sampling: Sampling) -> list[Completion | None]:
        """The next attempt of each episode of ``active`` (None: stopped, its conversation outgrew the model),
        after its feedback and, in the explanation modes, its explanation."""
        mode = self.config.feedback
        explaining = []
        for episode in active:
            episode.cost = None
            if not episode.steps:  # the first attempt: the task alone
                continue
            last = episode.messages[-1]
            if mode == "simple" and episode.ran_code():
                last["content"] = SIMPLE_FEEDBACK
            elif mode in EXPLAIN_REQUESTS and episode.ran_code():
                last["content"] = f"{last['content']}\n\n{EXPLAIN_REQUESTS[mode]}"
                explaining.append(episode)
        if explaining:
            explain_sampling = dataclasses.replace(sampling, max_new_tokens=self.config.explanation_tokens)
            for episode, completion in zip(explaining, generate_replies(self.policy, explaining, explain_sampling),
                                           strict=True):
                if completion is None:  # stopped: the conversation no longer fits
                    continue
                text = completion.text.strip() or "(empty explanation)"
                episode.messages += [{"role": "assistant", "content": text},
                                     {"role": "user", "content": FIX_REQUEST}]
                episode.explanations.append({"attempt": len(episode.steps) + 1, "text": text})
                episode.cost = completion
        playing = [episode for episode in active if not episode.done]
        replies = dict(zip(map(id, playing), generate_replies(self.policy, playing, sampling), strict=True))
        return [self._with_cost(replies.get(id(episode)), episode.cost) for episode in active]

    @staticmethod
    def _with_cost(reply: Completion | None, explanation: Completion | None) -> Completion | None:
        """The fix, charged with the explanation written for it (tokens and seconds)."""
        if reply is None or explanation is None:
            return reply
        return dataclasses.replace(reply, prompt_tokens=reply.prompt_tokens + explanation.prompt_tokens,
                                   completion_tokens=reply.completion_tokens + explanation.completion_tokens,
                                   seconds=reply.seconds + explanation.seconds)

    @staticmethod
    def _trajectory(episode: DebugEpisode, meta: dict[str, Any]) -> Trajectory:
        trajectory = episode.trajectory(meta)
        solved = next((i + 1 for i, step in enumerate(episode.steps) if step.reward >= 1.0), None)
        trajectory.meta.update(explanations=episode.explanations,
                               solved_attempt=solved if episode.error is None else None)
        return trajectory

    @staticmethod
    def solved_by_attempt(trajectory: Trajectory, turns: int) -> list[bool]:
        """For each attempt 1..turns: whether the episode was solved at or before it."""
        solved = trajectory.meta.get("solved_attempt")
        return [solved is not None and solved <= k for k in range(1, turns + 1)]

    @staticmethod
    def success_by_attempt(trajectories: Sequence[Trajectory], turns: int) -> np.ndarray:
        """Fraction of the episodes solved at or before each attempt, shape ``(turns,)`` (lost ones left out)."""
        counted = [t for t in trajectories if t.error is None]
        return np.mean([SelfDebugging.solved_by_attempt(t, turns) for t in counted], axis=0) if counted \
            else np.zeros(turns)
