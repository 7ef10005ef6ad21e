"""What every experiment method is to the runner: a step that plays (and learns), a state to save and resume."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
from rich.console import Console

from ...agents.policy import Policy
from ...agents.rollout import rollout_many
from ...agents.trajectory import Trajectory
from ...curricula.base import TaskChooser
from ...envs.task import Task
from ..config import ExperimentConfig


@dataclass
class Context:
    """What the runner hands a method: the config, the run folder, the envs (sharing one pool), and the
    curriculum (a :class:`~selfgym.curricula.base.TaskChooser` that never hands out a held-out task)."""

    config: ExperimentConfig
    run_dir: Path
    envs: Sequence[gym.Env]
    curriculum: TaskChooser
    console: Console


@dataclass
class StepResult:
    """One step of a method: the episodes it played, in order (logged as episodes ``first`` on), how many
    episodes of the budget the step used, and what it measured (a row of ``metrics.jsonl``)."""

    trajectories: list[Trajectory]
    first: int
    episodes: int
    metrics: dict[str, Any] = field(default_factory=dict)


class Method:
    """An experiment method (see :mod:`selfgym.experiments.methods`): the runner calls :meth:`step` until the
    budget is spent, logs each step's episodes, then calls :meth:`end_step` (learn, save a checkpoint) and saves
    the state; :meth:`finish` runs after the last step. ``policy`` is what the runner evaluates."""

    name: ClassVar[str]

    def __init__(self, context: Context, policy: Policy, state: dict[str, Any]) -> None:
        self.context = context
        self.config = context.config
        self.policy = policy
        self.load_state_dict(state)

    def step(self, first: int) -> StepResult:
        """Play the next episodes of the budget, from episode number ``first``."""
        raise NotImplementedError

    def end_step(self, result: StepResult) -> None:
        """After the step's episodes are logged, before the state is committed: learn from them, checkpoint."""

    def finish(self) -> None:
        """After the last step (e.g. a last fine-tuning round on what is buffered)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def first_episode(self, committed: int) -> int:
        """The number of the next episode, given the episodes the run's state has committed."""
        return committed

    # --- shared by the methods --------------------------------------------------------------------------------
    def sampling_for(self, first: int):
        """The policy's sampling, seeded by the run's seed and the episode number (a resumed run samples alike)."""
        return dataclasses.replace(self.policy.sampling, seed=self.config.seed * 1_000_003 + first)

    def system_prompt_kwargs(self) -> dict[str, Any]:
        prompt = self.config.agent.system_prompt
        return {"system_prompt": prompt} if prompt is not None else {}

    def play(self, tasks: Sequence[Task], first: int, **kwargs: Any) -> list[Trajectory]:
        """One episode per task on the context's envs (in lockstep, ``len(envs)`` at a time), seeds from the
        episode numbers (:func:`rollout_many`: lost episodes played again); then the curriculum's update for every episode that counts."""
        trajectories = rollout_many(self.context.envs, self.policy, tasks,
                                    seeds=[first + i for i in range(len(tasks))],
                                    sampling_for=lambda start: self.sampling_for(first + start),
                                    **self.system_prompt_kwargs(), **kwargs)
        self.update_curriculum(trajectories)
        return trajectories

    def update_curriculum(self, trajectories: Sequence[Trajectory]) -> None:
        """Tell the curriculum how each episode went; an episode lost to the infrastructure is no outcome."""
        for trajectory in trajectories:
            if trajectory.error is None:
                self.context.curriculum.update(trajectory.task, float(trajectory.success))
