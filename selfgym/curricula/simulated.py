"""A simulated learner for testing and comparing curricula without an LLM: competence per family grows with
practice, fastest on tasks the learner solves about half the time (its zone of proximal development)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..envs.task import Task


@dataclass
class SimulatedFamily:
    """A :class:`~selfgym.curricula.TaskFamily` of simulated tasks: a task's difficulty is its level plus a small
    jitter. ``learnable=False`` makes a family that practice never improves: success with probability
    ``fixed_success`` (0.5: a noisy TV; 0: hopeless)."""

    name: str
    levels: int = 8
    learnable: bool = True
    jitter: float = 0.25
    fixed_success: float = 0.5

    def make(self, level: int, rng: np.random.Generator) -> Task:
        if not 0 <= level < self.levels:
            raise ValueError(f"{self.name}: level must lie in 0..{self.levels - 1}, got {level}")
        difficulty = float(level + rng.uniform(-self.jitter, self.jitter))
        return self.at(difficulty, rng, level=level)

    def at(self, difficulty: float, rng: np.random.Generator, *, level: int | None = None) -> Task:
        """A task of exactly ``difficulty`` (what a mutation of a failed task asks for)."""
        level = round(difficulty) if level is None else level
        level = min(max(level, 0), self.levels - 1)
        uid = int(rng.integers(1 << 62))
        return Task(f"{self.name}/{difficulty:.3f}/{uid:x}", self.name, f"Solve a {self.name} task of difficulty "
                    f"{difficulty:.2f} (#{uid:x})", difficulty=difficulty, data={"level": level})

    def mutate(self, task: Task, rng: np.random.Generator) -> Task:
        """A new task near a failed one, a little easier on average (as a task writer asked for "similar
        difficulty" tends to produce)."""
        return self.at(max(0.0, task.difficulty + rng.normal(-0.3, 0.4)), rng)


@dataclass
class SimulatedLearner:
    """P(success) = sigmoid(sharpness · (competence − difficulty)); after each attempt competence grows by
    ``rate · 4 p (1 − p)`` (at most ``rate``, at p = 0.5), so tasks far too easy or too hard teach nothing."""

    families: list[SimulatedFamily]
    sharpness: float = 2.5
    rate: float = 0.05
    competence: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._learnable = {f.name: f.learnable for f in self.families}
        self._fixed = {f.name: f.fixed_success for f in self.families}
        for family in self.families:
            self.competence.setdefault(family.name, 0.0)

    def success_probability(self, task: Task) -> float:
        if not self._learnable[task.family]:
            return self._fixed[task.family]
        return 1 / (1 + math.exp(-self.sharpness * (self.competence[task.family] - task.difficulty)))

    def attempt(self, task: Task, rng: np.random.Generator) -> bool:
        """Play ``task`` once: succeed with the current probability, then learn from the attempt."""
        p = self.success_probability(task)
        success = bool(rng.random() < p)
        if self._learnable[task.family]:
            self.competence[task.family] += self.rate * 4 * p * (1 - p)
        return success

    def mean_competence(self) -> float:
        """Mean competence over the learnable families (in levels: 3.0 = solves level-3 tasks half the time)."""
        learnable = [self.competence[f.name] for f in self.families if f.learnable]
        return float(np.mean(learnable))
