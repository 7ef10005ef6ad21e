"""``method: {name: grpo}``: GRPO steps on curriculum tasks, checkpointed after each step."""

from __future__ import annotations

from typing import Any

from ...agents.grpo import GRPOConfig, GRPOTrainer
from ...agents.metrics import metric_value
from ...agents.rollout import DEFAULT_SYSTEM_PROMPT
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
        self.trainer = GRPOTrainer(policy, context.envs, GRPOConfig(
            steps=max(1, config.budget.episodes // self.per_step), tasks_per_step=method.tasks_per_step,
            group_size=method.group_size, max_new_tokens=agent.max_new_tokens,
            temperature=max(agent.temperature, 1e-3), top_p=agent.top_p,
            system_prompt=agent.system_prompt or DEFAULT_SYSTEM_PROMPT, learning_rate=method.learning_rate,
            kl_beta=method.kl_beta, lora_r=method.lora_r, lora_alpha=2 * method.lora_r, seed=config.seed,
            output_dir=str(context.run_dir / "grpo"), save_every=1, keep_checkpoints=1), tasks=context.curriculum)

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
