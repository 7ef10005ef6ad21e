"""Bandit curricula over (family, level) arms: learning progress, and learnability p(1 - p)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..envs.task import Task
from ..params import Fraction, NonNegativeInt
from .base import Curriculum, task_arm


class _ArmBandit(Curriculum):
    """Draws an arm with probability ``(1 - explore) * weight / sum + explore / arms``, then a task from it."""

    def __init__(self, families, *, seed: int = 0, explore: Fraction = 0.1) -> None:
        super().__init__(families, seed=seed)
        if not 0 <= explore <= 1:
            raise ValueError(f"explore must lie in [0, 1], got {explore}")
        self.explore = explore
        self.index = {arm.key: i for i, arm in enumerate(self.arms)}

    def weights(self) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self) -> np.ndarray:
        weights = np.maximum(self.weights(), 0.0)
        total = weights.sum()
        exploit = weights / total if total > 0 else np.full(len(weights), 1 / len(weights))
        return (1 - self.explore) * exploit + self.explore / len(weights)

    def next_task(self) -> Task:
        return self.make(self.arms[int(self.rng.choice(len(self.arms), p=self.probabilities()))])

    def _arm_index(self, task: Task) -> int | None:
        return self.index.get(task_arm(task).key)


class LearningProgressCurriculum(_ArmBandit):
    """Learning progress: per arm a fast and a slow EMA of success; progress = |fast - slow|; arms are drawn in
    proportion to progress (Portelas et al.; Kanitscheider et al.), with ``explore`` uniform exploration.

    ``fast_rate`` 0.1 and ``slow_rate`` 0.02 by default. An arm is drawn uniformly until it has ``warmup``
    episodes, so that every arm's progress gets measured.
    """

    def __init__(self, families, *, seed: int = 0, explore: Fraction = 0.1, fast_rate: Fraction = 0.1,
                 slow_rate: Fraction = 0.02, warmup: NonNegativeInt = 3) -> None:
        super().__init__(families, seed=seed, explore=explore)
        if not 0 < slow_rate < fast_rate <= 1:
            raise ValueError(f"need 0 < slow_rate < fast_rate <= 1, got {slow_rate}, {fast_rate}")
        self.fast_rate, self.slow_rate, self.warmup = fast_rate, slow_rate, warmup
        self.fast = np.zeros(len(self.arms))
        self.slow = np.zeros(len(self.arms))
        self.count = np.zeros(len(self.arms), dtype=int)

    def progress(self) -> np.ndarray:
        return np.abs(self.fast - self.slow)

    def weights(self) -> np.ndarray:
        unseen = self.count < self.warmup
        if unseen.any():
            return unseen.astype(float)
        return self.progress()

    def _update(self, task: Task, success: float) -> None:
        i = self._arm_index(task)
        if i is None:
            return
        if self.count[i] == 0:  # start both averages at the first outcome: no spurious progress from 0
            self.fast[i] = self.slow[i] = success
        self.fast[i] += self.fast_rate * (success - self.fast[i])
        self.slow[i] += self.slow_rate * (success - self.slow[i])
        self.count[i] += 1

    def _state(self) -> dict[str, Any]:
        return {"fast": self.fast.tolist(), "slow": self.slow.tolist(), "count": self.count.tolist()}

    def _load(self, state: dict[str, Any]) -> None:
        self.fast, self.slow = np.array(state["fast"]), np.array(state["slow"])
        self.count = np.array(state["count"], dtype=int)


class LearnabilityCurriculum(_ArmBandit):
    """Learnability: arms are drawn in proportion to p(1 - p), p the arm's success rate (a Beta(1, 1) posterior
    mean over the last episodes, decayed by ``decay`` per update of the arm) — tasks solved about half the time
    teach the most."""

    def __init__(self, families, *, seed: int = 0, explore: Fraction = 0.1, decay: Fraction = 0.95) -> None:
        super().__init__(families, seed=seed, explore=explore)
        self.decay = decay
        self.successes = np.zeros(len(self.arms))
        self.trials = np.zeros(len(self.arms))

    def success_rate(self) -> np.ndarray:
        return (self.successes + 1) / (self.trials + 2)

    def weights(self) -> np.ndarray:
        p = self.success_rate()
        return p * (1 - p)

    def _update(self, task: Task, success: float) -> None:
        i = self._arm_index(task)
        if i is None:
            return
        self.successes[i] = self.decay * self.successes[i] + success
        self.trials[i] = self.decay * self.trials[i] + 1

    def _state(self) -> dict[str, Any]:
        return {"successes": self.successes.tolist(), "trials": self.trials.tolist()}

    def _load(self, state: dict[str, Any]) -> None:
        self.successes, self.trials = np.array(state["successes"]), np.array(state["trials"])
