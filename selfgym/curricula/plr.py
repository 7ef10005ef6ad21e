"""Prioritized Level Replay (Jiang et al., 2021) over generated tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..envs.task import Task
from ..params import AtLeastOne, Fraction, Positive
from .base import Curriculum


@dataclass
class _Seen:
    task: Task
    successes: float = 0.0
    trials: float = 0.0
    last_seen: int = 0

    @property
    def success_rate(self) -> float:
        return (self.successes + 1) / (self.trials + 2)  # Beta(1, 1) posterior mean

    def score(self, kind: str) -> float:
        p = self.success_rate
        return p * (1 - p) if kind == "learnability" else 1 - p


class PrioritizedReplayCurriculum(Curriculum):
    """Replays seen tasks by score rank and staleness, and keeps drawing new ones while the buffer fills.

    * Score of a task: ``"learnability"`` p(1 - p) (default; the binary-reward stand-in for PLR's value-loss
      score: high where the agent is unsure) or ``"failure"`` 1 - p, p its Beta(1, 1) success estimate.
    * P_score ∝ (1/rank)^(1/temperature) (rank 1 = highest score), P_stale ∝ episodes since the task was last
      played; P = (1 - staleness) · P_score + staleness · P_stale (temperature 0.1, staleness 0.1 as in PLR).
    * A seen task is replayed with probability ``len(buffer) / buffer_size`` (the coverage), else a new task is
      drawn from a uniformly chosen family and level. When the buffer is full, the lowest-scored task leaves.
    """

    def __init__(self, families, *, seed: int = 0, temperature: Positive = 0.1, staleness: Fraction = 0.1,
                 buffer_size: AtLeastOne = 256, score: Literal["learnability", "failure"] = "learnability",
                 decay: Fraction = 0.95) -> None:
        super().__init__(families, seed=seed)
        if score not in ("learnability", "failure"):
            raise ValueError(f"score must be 'learnability' or 'failure', got {score!r}")
        if temperature <= 0 or not 0 <= staleness <= 1 or buffer_size < 1:
            raise ValueError("need temperature > 0, 0 <= staleness <= 1 and buffer_size >= 1")
        self.temperature, self.staleness, self.buffer_size = temperature, staleness, buffer_size
        self.score_kind, self.decay = score, decay
        self.buffer: dict[str, _Seen] = {}

    @staticmethod
    def _key(task: Task) -> str:
        return f"{task.family}/{task.id}"

    def replay_probabilities(self) -> tuple[list[str], np.ndarray]:
        keys = list(self.buffer)
        scores = np.array([self.buffer[k].score(self.score_kind) for k in keys])
        ranks = np.empty(len(keys))
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(keys) + 1)
        p_score = (1 / ranks) ** (1 / self.temperature)
        p_score /= p_score.sum()
        stale = np.array([self.episodes - self.buffer[k].last_seen for k in keys], dtype=float)
        p_stale = stale / stale.sum() if stale.sum() > 0 else np.full(len(keys), 1 / len(keys))
        return keys, (1 - self.staleness) * p_score + self.staleness * p_stale

    def next_task(self) -> Task:
        if self.buffer and self.rng.random() < len(self.buffer) / self.buffer_size:
            keys, probs = self.replay_probabilities()
            return self.buffer[keys[int(self.rng.choice(len(keys), p=probs))]].task
        family = list(self.families.values())[int(self.rng.integers(len(self.families)))]
        return family.make(int(self.rng.integers(family.levels)), self.rng)

    def _update(self, task: Task, success: float) -> None:
        key = self._key(task)
        seen = self.buffer.get(key)
        if seen is None:
            if len(self.buffer) >= self.buffer_size:
                worst = min(self.buffer, key=lambda k: self.buffer[k].score(self.score_kind))
                del self.buffer[worst]
            seen = self.buffer[key] = _Seen(task)
        seen.successes = self.decay * seen.successes + success
        seen.trials = self.decay * seen.trials + 1
        seen.last_seen = self.episodes

    def _state(self) -> dict[str, Any]:
        return {"buffer": [{"task": s.task.to_dict(), "successes": s.successes, "trials": s.trials,
                            "last_seen": s.last_seen} for s in self.buffer.values()]}

    def _load(self, state: dict[str, Any]) -> None:
        self.buffer = {}
        for raw in state["buffer"]:
            seen = _Seen(**{**raw, "task": Task.from_dict(raw["task"])})
            self.buffer[self._key(seen.task)] = seen
