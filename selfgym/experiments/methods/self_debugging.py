"""``method: {name: self-debugging}``: each task is one episode of up to ``turns`` attempts, the model debugging
its own code from the env's feedback in between (:mod:`selfgym.agents.self_debugging`)."""

from __future__ import annotations

from ...agents.self_debugging import SelfDebugging, SelfDebuggingConfig
from .base import Method, StepResult


class SelfDebuggingMethod(Method):
    """Each step plays ``env.parallel`` curriculum tasks, one Self-Debugging episode each (``meta``: feedback
    mode, explanations, ``solved_attempt``); nothing is learned. The curriculum hears whether a task was solved
    within its turns; ``metrics.jsonl`` gets the step's success by attempt."""

    name = "self-debugging"

    def step(self, first: int) -> StepResult:
        spec = self.config.method
        n = min(len(self.context.envs), self.config.budget.episodes - first)
        tasks = [self.context.curriculum.next_task() for _ in range(n)]
        config = SelfDebuggingConfig(feedback=spec.feedback, turns=spec.turns,
                                     explanation_tokens=spec.explanation_tokens,
                                     sampling=self.sampling_for(first), **self.system_prompt_kwargs())
        trajectories = SelfDebugging(self.policy, config).run(self.context.envs[:n], tasks,
                                                               seeds=[first + i for i in range(n)])
        self.update_curriculum(trajectories)
        by_attempt = SelfDebugging.success_by_attempt(trajectories, spec.turns)
        return StepResult(trajectories, first, n, metrics={"success_by_attempt": [float(s) for s in by_attempt]})
