"""Difficulty ladder: each family climbs a level when the agent masters it and drops when it struggles."""

from __future__ import annotations

from collections import deque
from typing import Any

from ..envs.task import Task
from ..params import AtLeastOne, Fraction, NonNegativeInt
from .base import Arm, Curriculum, task_arm


class LadderCurriculum(Curriculum):
    """Per family, the current level rises when the success rate over the last ``window`` episodes at that
    level exceeds ``raise_above`` (0.7) and falls below ``lower_below`` (0.3), as reasoning-gym's trainers do.
    Families take turns (round robin). The window restarts at each level change.
    """

    def __init__(self, families, *, seed: int = 0, window: AtLeastOne = 20, min_episodes: AtLeastOne = 10,
                 raise_above: Fraction = 0.7, lower_below: Fraction = 0.3, start_level: NonNegativeInt = 0) -> None:
        super().__init__(families, seed=seed)
        if not 0 <= lower_below < raise_above <= 1:
            raise ValueError(f"need 0 <= lower_below < raise_above <= 1, got {lower_below}, {raise_above}")
        self.window, self.min_episodes = window, min_episodes
        self.raise_above, self.lower_below = raise_above, lower_below
        self.level = {name: min(start_level, f.levels - 1) for name, f in self.families.items()}
        self.recent: dict[str, deque[float]] = {name: deque(maxlen=window) for name in self.families}
        self._turn = 0

    def next_task(self) -> Task:
        names = list(self.families)
        name = names[self._turn % len(names)]
        self._turn += 1
        return self.make(Arm(name, self.level[name]))

    def _update(self, task: Task, success: float) -> None:
        arm = task_arm(task)
        if arm.family not in self.level or arm.level != self.level[arm.family]:
            return  # a task from elsewhere, or from a level we have left: it says nothing about the current one
        recent = self.recent[arm.family]
        recent.append(success)
        if len(recent) < self.min_episodes:
            return
        rate = sum(recent) / len(recent)
        top = self.families[arm.family].levels - 1
        if rate > self.raise_above and self.level[arm.family] < top:
            self.level[arm.family] += 1
            recent.clear()
        elif rate < self.lower_below and self.level[arm.family] > 0:
            self.level[arm.family] -= 1
            recent.clear()

    def _state(self) -> dict[str, Any]:
        return {"level": dict(self.level), "recent": {k: list(v) for k, v in self.recent.items()}, "turn": self._turn}

    def _load(self, state: dict[str, Any]) -> None:
        self.level = dict(state["level"])
        self.recent = {k: deque(v, maxlen=self.window) for k, v in state["recent"].items()}
        self._turn = state["turn"]
