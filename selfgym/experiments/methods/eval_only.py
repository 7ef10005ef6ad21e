"""``method: {name: eval-only}``: play the curriculum's tasks, learn nothing (a baseline; a curriculum's own run)."""

from __future__ import annotations

from .base import Method, StepResult


class EvalOnly(Method):
    """Each step plays ``env.parallel`` tasks from the curriculum, one episode each."""

    name = "eval-only"

    def step(self, first: int) -> StepResult:
        n = min(len(self.context.envs), self.config.budget.episodes - first)
        tasks = [self.context.curriculum.next_task() for _ in range(n)]
        return StepResult(self.play(tasks, first), first, n)
