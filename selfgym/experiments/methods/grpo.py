"""``method: {name: grpo}``: GRPO steps on curriculum tasks, checkpointed after each step; ``method: {name:
score}``: SCoRe's, on two-attempt episodes."""

from __future__ import annotations

from typing import Any

from ...agents.grpo import GRPOTrainer
from ...agents.grpo_config import GRPOConfig
from ...agents.score import SCoReTrainer
from ...agents.score_config import SCoReConfig
from ...agents.metrics import metric_value
from .base import Context, Method, StepResult


class GRPOMethod(Method):
    """Each step is one :class:`~selfgym.agents.grpo.GRPOTrainer` step: ``tasks_per_step × group_size`` episodes
    of curriculum tasks (the trainer tells the curriculum how they went), one policy update. The trainer
    checkpoints (atomically, RNG and curriculum included) into ``grpo/`` after every step and resumes from there;
    its own ``metrics.jsonl`` and TensorBoard logs are in the same folder."""

    name = "grpo"
    trainer_class: type[GRPOTrainer] = GRPOTrainer
    config_class: type[GRPOConfig] = GRPOConfig

    def __init__(self, context: Context, policy, state: dict[str, Any]) -> None:
        super().__init__(context, policy, state)
        config, method, agent = context.config, context.config.method, context.config.agent
        self.per_step = method.tasks_per_step * method.group_size
        # the spec is the config less what the run sets: those fields come from the budget, agent and run folder
        # as they are (agent.temperature > 0 is checked when the file is read: a GRPO group must vary)
        prompt = {"system_prompt": agent.system_prompt} if agent.system_prompt is not None else {}
        self.trainer = self.trainer_class(policy, context.envs, self.config_class(
            **method.model_dump(exclude={"name"}), **prompt, **self.steps_argument(),
            max_new_tokens=agent.max_new_tokens, temperature=agent.temperature, top_p=agent.top_p,
            seed=config.seed, output_dir=str(context.run_dir / self.name), save_every=1, keep_checkpoints=1),
            tasks=context.curriculum)

    def steps_argument(self) -> dict[str, int]:
        """GRPO: as many steps as the budget holds."""
        return {"steps": max(1, self.config.budget.episodes // self.per_step)}

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


class SCoReMethod(GRPOMethod):
    """``method: {name: score}``: each step is one :class:`~selfgym.agents.SCoReTrainer` step of two-attempt
    episodes (the run's envs wrapped in :class:`~selfgym.envs.SelfCorrection`), stage I then stage II; the budget
    is exactly the stages' episodes (checked when the file is read). Checkpoints, resumption and logs as GRPO's,
    in ``score/``; each step's metrics add the stage, ``accuracy_t1``, ``accuracy_t2``, ``delta``,
    ``incorrect_to_correct`` and ``correct_to_incorrect``. The run's evaluations play one attempt."""

    name = "score"
    trainer_class = SCoReTrainer
    config_class = SCoReConfig

    def steps_argument(self) -> dict[str, int]:
        return {}  # stage1_steps + stage2_steps
