"""``method: {name: reflexion}``: each task gets up to ``trials`` attempts, each after a reflection on the last."""

from __future__ import annotations

from ...agents.reflexion import Reflexion, ReflexionConfig
from .base import Method, StepResult


class ReflexionMethod(Method):
    """Each step runs Reflexion on ``env.parallel`` curriculum tasks; the last trial of each is the episode
    logged (``meta``: trials used, reflections). The curriculum hears whether the task was solved at all."""

    name = "reflexion"

    def step(self, first: int) -> StepResult:
        method = self.config.method
        n = min(len(self.context.envs), self.config.budget.episodes - first)
        tasks = [self.context.curriculum.next_task() for _ in range(n)]
        reflexion = Reflexion(self.policy, config=ReflexionConfig(
            trials=method.trials, memory_size=method.memory_size, actor_sampling=self.sampling_for(first),
            **self.system_prompt_kwargs()))
        results = reflexion.run(self.context.envs[:n], tasks, seed=first)
        trajectories = [result.trajectories[-1] for result in results]
        for result, trajectory in zip(results, trajectories, strict=True):
            trajectory.meta.update(trials=len(result.trajectories), reflections=result.reflections)
        self.update_curriculum(trajectories)
        return StepResult(trajectories, first, n)
