"""SCoRe (Kumar et al., 2024): a model learns to correct its own first attempt, by two-stage online RL on
two-attempt episodes. It is the GRPO trainer (:mod:`selfgym.agents.grpo`: token episodes, group advantages,
clipped loss, LoRA, atomic checkpoints, exact resumption) with a different weighting of each episode's tokens.

One step:

1. **Episodes.** ``tasks_per_step × group_size`` episodes of :class:`~selfgym.envs.SelfCorrection`: a first
   attempt, a feedback turn (SCoRe's instruction to look for an error, or the env's own feedback), a second
   attempt. Each attempt is judged by the wrapped env's verifier (``r1``, ``r2``); the model's tokens of each
   attempt are known from the episode's ``reply_spans`` and each step's ``info["attempt"]``.
2. **Weights** (:meth:`SCoReTrainer.loss_weights`), with ``A(x)`` the group advantage of ``x``:

   ============  ==============================  ==============================
   stage         first-attempt tokens            second-attempt tokens
   ============  ==============================  ==============================
   I             advantage 0, KL weight β1       ``A(r2)``, KL weight β2
   II            ``A(r1)``, KL weight β2         ``A(r2 + α(r2 - r1))``, KL β2
   ============  ==============================  ==============================

   In stage I the first attempt's only gradient is the KL term (β1 large), which holds it at the base model
   while the second attempt learns to fix the base model's mistakes (without it, training both attempts
   collapses into answering the same thing twice); stage II trains both, and the bonus ``α(r2 - r1)`` pays for
   changing a wrong answer into a right one and charges for the reverse.
3. **Update** and **bookkeeping**: GRPO's (one clipped-loss update; the KL to the base model is the k3 estimate
   on each model token times its weight). The step's metrics add ``stage``, ``accuracy_t1``, ``accuracy_t2``,
   ``delta`` (t2 - t1), ``incorrect_to_correct`` and ``correct_to_incorrect`` (fractions of the step's episodes).
   The stage follows from the step number, so a resumed run continues in the stage it was cut off in.

>>> policy = HFPolicy("smollm2")                                                                # doctest: +SKIP
>>> envs = [gym.make("selfgym/Math-v0", max_steps=1, tools=False) for _ in range(16)]           # doctest: +SKIP
>>> config = SCoReConfig(stage1_steps=10, stage2_steps=20, output_dir="runs/score")             # doctest: +SKIP
>>> SCoReTrainer(policy, envs, config).train()   # the envs are wrapped in SelfCorrection       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ..curricula.base import TaskChooser
from ..envs.self_correction import SelfCorrection, attempt_rewards
from ..envs.task import Task, TaskSource
from .grpo import GRPOTrainer, TokenEpisode, TokenValues, group_advantages
from .hf import HFPolicy
from .policy import Policy, Sampling
from .rollout import rollout_many
from .score_config import SCoReConfig
from .trajectory import Trajectory


def attempt_of_tokens(episode: TokenEpisode) -> np.ndarray:
    """Per token of ``episode.ids``: the attempt (1 or 2) whose reply it belongs to, 0 for the prompt and the
    env's turns."""
    attempts = np.zeros(len(episode.ids), dtype=np.int64)
    for (start, end), step in zip(episode.reply_spans, episode.trajectory.steps, strict=False):
        attempts[start:end] = int(step.info.get("attempt", 1))
    return attempts


@dataclass
class SelfCorrectionOutcomes:
    """Per episode, whether each attempt was right (episodes lost to the infrastructure left out)."""

    first: list[bool]
    second: list[bool]

    @classmethod
    def of(cls, trajectories: Sequence[Trajectory]) -> SelfCorrectionOutcomes:
        played = [attempt_rewards(t.steps) for t in trajectories if t.error is None]
        return cls([c1 for _, _, c1, _ in played], [c2 for _, _, _, c2 in played])

    def metrics(self) -> dict[str, float]:
        """``accuracy_t1``, ``accuracy_t2``, ``delta`` and the fractions that changed either way."""
        first, second = np.asarray(self.first, dtype=bool), np.asarray(self.second, dtype=bool)
        if not first.size:
            return {}
        return {"accuracy_t1": float(first.mean()), "accuracy_t2": float(second.mean()),
                "delta": float(second.mean() - first.mean()),
                "incorrect_to_correct": float((~first & second).mean()),
                "correct_to_incorrect": float((first & ~second).mean())}


class SCoReTrainer(GRPOTrainer):
    """Trains ``policy`` to correct itself with SCoRe (see the module and :class:`SCoReConfig`).

    Args:
        policy: the model to train (changed in place, as :class:`GRPOTrainer` does).
        envs: one-attempt envs (Math-v0 or Code-v0 with ``max_steps=1``); each is wrapped in
            :class:`~selfgym.envs.SelfCorrection` with ``config.feedback`` (an env already wrapped is used as is,
            if its feedback is the config's).
        config: hyper-parameters; see :class:`SCoReConfig`.
        tasks: as for :class:`GRPOTrainer`.
    """

    log_name = "SCoRe"
    config: SCoReConfig

    def __init__(self, policy: HFPolicy, envs: Sequence[gym.Env], config: SCoReConfig | None = None, *,
                 tasks: TaskSource | Sequence[Task] | TaskChooser | None = None) -> None:
        config = config or SCoReConfig()
        if not isinstance(config, SCoReConfig):
            raise TypeError(f"SCoReTrainer needs a SCoReConfig, got {type(config).__name__}")
        super().__init__(policy, [self_correcting(env, config) for env in envs], config, tasks=tasks)

    def needs_reference(self) -> bool:
        return self.config.beta_1 > 0 or self.config.beta_2 > 0

    @property
    def stage(self) -> int:
        """The stage of the next step (1 or 2)."""
        return self.config.stage(self.step)

    def loss_weights(self, episodes: Sequence[TokenEpisode]
                     ) -> tuple[list[TokenValues], list[TokenValues], dict[str, float]]:
        config, stage = self.config, self.stage
        played = [attempt_rewards(episode.trajectory.steps) for episode in episodes]
        r1 = np.array([p[0] for p in played])
        r2 = np.array([p[1] for p in played])
        if stage == 1:
            first_advantages = np.zeros_like(r1)
            second_advantages = group_advantages(r2, config.group_size, scale=config.scale_rewards)
            first_kl = config.beta_1
        else:
            first_advantages = group_advantages(r1, config.group_size, scale=config.scale_rewards)
            shaped = r2 + config.alpha * (r2 - r1)
            second_advantages = group_advantages(shaped, config.group_size, scale=config.scale_rewards)
            first_kl = config.beta_2
        advantages, kl_weights = [], []
        for index, episode in enumerate(episodes):
            attempt = attempt_of_tokens(episode)
            advantages.append(np.select([attempt == 1, attempt == 2],
                                        [first_advantages[index], second_advantages[index]], 0.0))
            kl_weights.append(np.select([attempt == 1, attempt == 2], [first_kl, config.beta_2], 0.0))
        outcomes = SelfCorrectionOutcomes.of([episode.trajectory for episode in episodes])
        return advantages, kl_weights, {"stage": stage, **outcomes.metrics()}


def self_correcting(env: gym.Env, config: SCoReConfig) -> SelfCorrection:
    """``env`` as a two-attempt env with the config's feedback."""
    if isinstance(env, SelfCorrection):
        if (env.feedback, env.instruction) != (config.feedback, config.instruction):
            raise ValueError(f"an env is wrapped with feedback={env.feedback!r} and another instruction than "
                             f"the config's (feedback={config.feedback!r}); pass it unwrapped")
        return env
    return SelfCorrection(env, config.feedback, config.instruction)


def evaluate_self_correction(policy: Policy, envs: Sequence[gym.Env], tasks: Sequence[Task], *,
                             sampling: Sampling, system_prompt: str | None = None,
                             feedback: str = "instruction", **wrapper: Any) -> tuple[SelfCorrectionOutcomes,
                                                                                      list[Trajectory]]:
    """Play each task once as a two-attempt episode (envs wrapped in :class:`~selfgym.envs.SelfCorrection`
    unless they already are); the outcomes of both attempts, in task order, and the trajectories. An episode
    lost to the infrastructure after its replays raises: an evaluation's pairs must be complete."""
    wrapped = [env if isinstance(env, SelfCorrection) else SelfCorrection(env, feedback, **wrapper) for env in envs]
    prompt = {"system_prompt": system_prompt} if system_prompt is not None else {}
    trajectories = rollout_many(wrapped, policy, tasks, seeds=[0] * len(tasks), sampling=sampling, **prompt)
    lost = [t.task.id for t in trajectories if t.error is not None]
    if lost:
        raise RuntimeError(f"{len(lost)} evaluation episodes were lost to the infrastructure (e.g. {lost[0]!r})")
    return SelfCorrectionOutcomes.of(trajectories), trajectories


__all__ = ["SCoReConfig", "SCoReTrainer", "SelfCorrectionOutcomes", "attempt_of_tokens",
           "evaluate_self_correction", "self_correcting"]
