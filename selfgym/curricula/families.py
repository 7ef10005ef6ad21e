"""Task families for curricula from selfgym's task sources: reasoning-gym generators with their difficulty
levels, and any env's fixed task source levelled by task difficulty."""

from __future__ import annotations

import numpy as np

from ..envs.task import Task, TaskSource
from .base import FixedFamily


class ReasoningGymFamily:
    """A :class:`~selfgym.curricula.TaskFamily` over one reasoning-gym generator: level ``L`` sets every
    difficulty attribute to ``L`` (clipped to each attribute's top), as reasoning-gym's own curricula step.

    ``levels`` defaults to the generator's deepest attribute; tasks of a level come from a fixed source of
    ``size`` tasks made with ``seed``, so a task id always names the same task.
    """

    def __init__(self, name: str, levels: int | None = None, *, size: int = 1000, seed: int = 0) -> None:
        from ..envs.math.generators import reasoning_gym_families

        families = reasoning_gym_families()
        if name not in families:
            import difflib

            close = difflib.get_close_matches(name, list(families), n=3)
            raise ValueError(f"unknown reasoning-gym generator {name!r}" +
                             (f"; did you mean {', '.join(map(repr, close))}?" if close else ""))
        deepest = max((spec["levels"] for spec in families[name].values()), default=1)
        self.name = name
        self.levels = min(levels or deepest, deepest)
        self.size, self.seed = size, seed
        self._sources: dict[int, TaskSource] = {}

    def source(self, level: int) -> TaskSource:
        from ..envs.math.generators import ReasoningGymSource

        if not 0 <= level < self.levels:
            raise ValueError(f"{self.name}: level must lie in 0..{self.levels - 1}, got {level}")
        if level not in self._sources:
            self._sources[level] = ReasoningGymSource(self.name, level, seed=self.seed, size=self.size)
        return self._sources[level]

    def make(self, level: int, rng: np.random.Generator) -> Task:
        task = self.source(level).sample(rng)
        return Task(task.id, task.family, task.prompt, task.difficulty, {**task.data, "level": level})


def source_family(source: TaskSource) -> FixedFamily:
    """An env's own task source as one family, levelled by the tasks' distinct difficulties."""
    return FixedFamily(source.family, list(source))
