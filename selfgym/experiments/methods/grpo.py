"""``method: {name: grpo}``: GRPO steps on curriculum tasks, checkpointed after each step."""

from __future__ import annotations

from typing import Any

from ...agents.grpo import GRPOTrainer
from ...agents.grpo_config import GRPOConfig
from ...agents.metrics import metric_value
from .base import Context, Method, StepResult


class GRPOMethod(Method):
    """Each step is one :class:`~selfgym.agents.grpo.GRPOTrainer` step: ``tasks_per_step × group_size`` episodes
    of curriculum tasks (the trainer tells the curriculum how they went), one policy update. The trainer
    checkpoints (atomically, RNG and curriculum included) into ``grpo/`` after every step and resumes from there;
    its own ``metrics.jsonl`` and TensorBoard logs are in the same folder."""

    name = "grpo"

    def __init__(self, context: Context, policy, state: dict[str, Any]) -> None:
        super().__init__(context, policy, state)
        config, method, agent = context.config, context.config.method, context.config.agent
        self.per_step = method.tasks_per_step * method.group_size
        # the spec is GRPOConfig less what the run sets: those fields come from the budget, agent and run folder
        # as they are (agent.temperature > 0 is checked when the file is read: a GRPO group must vary)
        prompt = {"system_prompt": agent.system_prompt} if agent.system_prompt is not None else {}
        self.trainer = GRPOTrainer(policy, context.envs, GRPOConfig(
            **method.model_dump(exclude={"name"}), **prompt, steps=max(1, config.budget.episodes // self.per_step),
            max_new_tokens=agent.max_new_tokens, temperature=agent.temperature, top_p=agent.top_p,
            seed=config.seed, output_dir=str(context.run_dir / "grpo"), save_every=1, keep_checkpoints=1),
            tasks=context.curriculum)

    def first_episode(self, committed: int) -> int:
        # The trainer's checkpoint, not the run's state, says which step comes next: a kill between the two
        # keeps the step without its log rows (a gap in the episode numbers) rather than playing it twice.
        return self.trainer.step * self.per_step

    def step(self, first: int) -> StepResult:
        metrics = self.trainer.train_step()
        trajectories = [episode.trajectory for episode in self.trainer.last_episodes]
        last = self.trainer.step >= self.trainer.config.steps  # the rest of the budget is less than a step
        episodes = self.config.budget.episodes if last else self.trainer.step * self.per_step
        return StepResult(trajectories, first, episodes - first,
                          {key: metric_value(value) for key, value in metrics.items() if key != "episodes"})

    def end_step(self, result: StepResult) -> None:
        self.trainer.save_checkpoint()  # after the logs, before the run's state: see first_episode
