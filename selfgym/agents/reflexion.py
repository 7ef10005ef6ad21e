"""Reflexion (Shinn et al., 2023): verbal reinforcement across trials of the same task.

Actor → evaluator (the env's reward) → on failure the model writes a short reflection (why it failed, a concise
new plan) → the next trial's first message carries the last ``memory_size`` reflections ("Your memory for the
task below: Trial i: …") and, as the paper does for code, the previous attempt with the env's feedback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from ..envs.task import Task
from .policy import Policy, Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT, rollout_many
from .trajectory import Trajectory

REFLECTION_SYSTEM_PROMPT = (
    "You are an expert at diagnosing failed attempts. You will be shown a task, an attempt at it and the "
    "environment's feedback. In a few sentences, say why the attempt failed and give a concise, concrete plan "
    "for the next attempt. Do not solve the task; write only the diagnosis and the plan."
)


@dataclass(frozen=True)
class ReflexionConfig:
    """Hyper-parameters of Reflexion. ``trials`` counts every attempt, the first included."""

    trials: int = 3
    memory_size: int = 3
    include_last_attempt: bool = True  # show the previous attempt and its feedback with the memory
    max_attempt_chars: int = 4000  # of the quoted attempt, so prompts stay bounded
    actor_sampling: Sampling | None = None
    reflection_sampling: Sampling = field(default_factory=lambda: Sampling(max_new_tokens=256))
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT

    def __post_init__(self) -> None:
        if self.trials < 1 or self.memory_size < 1:
            raise ValueError(f"trials and memory_size must be >= 1, got {self.trials}, {self.memory_size}")


@dataclass
class ReflexionResult:
    """The trials of one task: ``trajectories[i]`` is trial i+1; ``reflections[i]`` was written after it."""

    task: Task
    trajectories: list[Trajectory]
    reflections: list[str]

    @property
    def success(self) -> bool:
        return any(t.success for t in self.trajectories)

    @property
    def error(self) -> str | None:
        """Why the last trial was lost to the infrastructure (it was replayed, and lost again), if it was."""
        return self.trajectories[-1].error if self.trajectories else None

    def solved_by_trial(self, trials: int) -> list[bool]:
        """For each trial number 1..trials: solved at or before it (a solved task stays solved)."""
        first = next((i for i, t in enumerate(self.trajectories) if t.success), None)
        return [first is not None and first <= i for i in range(trials)]


def memory_prompt(reflections: Sequence[str], last: Trajectory | None, config: ReflexionConfig) -> str:
    """The text put before the task in the next trial: the last reflections, and the previous attempt."""
    if not reflections:
        return ""
    kept = list(reflections)[-config.memory_size:]
    first_trial = len(reflections) - len(kept) + 1
    lines = ["Your memory for the task below:"]
    lines += [f"Trial {first_trial + i}: {text.strip()}" for i, text in enumerate(kept)]
    if config.include_last_attempt and last is not None and last.steps:
        attempt = last.steps[-1].action[: config.max_attempt_chars]
        feedback = last.feedback[: config.max_attempt_chars]
        lines += ["", "Your previous attempt:", attempt, "", "Its feedback:", feedback]
    return "\n".join(lines) + "\n\n"


def reflection_messages(trajectory: Trajectory, config: ReflexionConfig) -> list[dict[str, str]]:
    transcript = trajectory.transcript()
    if len(transcript) > 3 * config.max_attempt_chars:  # keep the task's start and the attempt's end
        transcript = transcript[: config.max_attempt_chars] + "\n[...]\n" + transcript[-2 * config.max_attempt_chars:]
    return [
        {"role": "system", "content": REFLECTION_SYSTEM_PROMPT},
        {"role": "user", "content": f"{transcript}\n\nThe attempt failed (reward {trajectory.final_reward:g}). "
                                    "Reflection:"},
    ]


class Reflexion:
    """Runs Reflexion trials with ``actor``; ``reflector`` writes the reflections (default: the actor itself).

    ``run(envs, tasks)`` plays every task in parallel (one env per task, lockstep, batched generation), trial
    after trial; a task leaves the loop once solved.
    """

    def __init__(self, actor: Policy, reflector: Policy | None = None, config: ReflexionConfig | None = None) -> None:
        self.actor = actor
        self.reflector = reflector or actor
        self.config = config or ReflexionConfig()

    def run(self, envs: Sequence[gym.Env], tasks: Sequence[Task], *, seed: int = 0) -> list[ReflexionResult]:
        if len(envs) < 1:
            raise ValueError("Reflexion.run needs at least one env")
        results = [ReflexionResult(task, [], []) for task in tasks]
        for trial in range(self.config.trials):
            pending = [r for r in results if not r.success and r.error is None]
            prefixes = [memory_prompt(r.reflections, r.trajectories[-1] if r.trajectories else None, self.config)
                        for r in pending]
            kwargs = dict(system_prompt=self.config.system_prompt, sampling=self.config.actor_sampling,
                          meta={"method": "reflexion", "trial": trial + 1})
            # episodes lost to the infrastructure are played again: no trial is lost to them
            trajectories = rollout_many(envs, self.actor, [r.task for r in pending], seeds=[seed + trial] * len(pending),
                                        first_message_prefixes=prefixes, **kwargs)
            for result, trajectory in zip(pending, trajectories, strict=True):
                trajectory.meta["memory"] = list(result.reflections[-self.config.memory_size:])
                result.trajectories.append(trajectory)
            failed = [(r, t) for r, t in zip(pending, trajectories, strict=True) if not t.success and t.error is None]
            if failed and trial + 1 < self.config.trials:
                texts = self.reflector.act_batch([reflection_messages(t, self.config) for _, t in failed],
                                                 self.config.reflection_sampling)
                for (result, _), text in zip(failed, texts, strict=True):
                    result.reflections.append(text.strip() or "(empty reflection)")
        return results

    @staticmethod
    def success_by_trial(results: Sequence[ReflexionResult], trials: int) -> np.ndarray:
        """Fraction of tasks solved at or before each trial, shape ``(trials,)``."""
        return np.mean([r.solved_by_trial(trials) for r in results], axis=0)
