"""Uniform: every family and level equally often. The baseline every other curriculum must beat."""

from __future__ import annotations

from ..envs.task import Task
from .base import Curriculum


class UniformCurriculum(Curriculum):
    """Draws a family uniformly, then a level uniformly, then a task."""

    def next_task(self) -> Task:
        family = list(self.families.values())[int(self.rng.integers(len(self.families)))]
        return family.make(int(self.rng.integers(family.levels)), self.rng)
