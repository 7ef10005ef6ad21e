"""The one config of :class:`~selfgym.agents.score.SCoReTrainer`, apart from the trainer so that reading it (an
experiment file's ``method: {name: score}`` is generated from it) does not load torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ..envs.self_correction import CORRECTION_INSTRUCTION
from ..params import NonNegative, NonNegativeInt
from ..params import documented as _f
from .grpo_config import GRPOConfig


@dataclass
class SCoReConfig(GRPOConfig):
    """SCoRe (Kumar et al., 2024): GRPO on two-attempt episodes (:class:`~selfgym.envs.SelfCorrection`), in two
    stages. Every :class:`GRPOConfig` field applies (a group is ``group_size`` two-attempt episodes of one task),
    except ``steps``, which is ``stage1_steps + stage2_steps``, and ``kl_beta``, replaced by ``beta_1`` and
    ``beta_2`` (it must stay 0).

    With ``r1``, ``r2`` the verifier's rewards of the two attempts (0/1 on Math-v0) and ``A(x)`` the group
    advantage of ``x`` (``(x - group mean) / group std``, or unscaled with ``scale_rewards=False``):

    * **Stage I** (``stage1_steps``): second-attempt tokens get ``A(r2)`` and the KL weight ``beta_2``;
      first-attempt tokens get no advantage and the KL weight ``beta_1``: the first attempt moves only to stay
      at the base model, so the second learns to improve on the base model's first attempts.
    * **Stage II** (``stage2_steps``): first-attempt tokens get ``A(r1)``, second-attempt tokens ``A(r2 + alpha
      * (r2 - r1))`` (the bonus pays a wrong-to-right change ``1 + alpha`` and charges a right-to-wrong one
      ``alpha``, against 1 for right-to-right), both with the KL weight ``beta_2``. The bonus goes to the
      second attempt only: in a return shared by both attempts it would pay the first for being wrong.

    The advantages are normalised within the group after shaping, so ``alpha`` sets how much the change counts
    against the second attempt's correctness, not the size of the step; the paper's ``alpha = 10`` (for 0/1
    rewards) is the default."""

    steps: int = dataclasses.field(default=0, init=False,
                                   metadata={"help": "training steps: stage1_steps + stage2_steps (derived)"})
    stage1_steps: NonNegativeInt = _f(10, "stage I steps: train attempt 2, hold attempt 1 at the base by KL")
    stage2_steps: NonNegativeInt = _f(20, "stage II steps: train both attempts, attempt 2 with the bonus")
    beta_1: NonNegative = _f(1.0, "stage I: KL weight on first-attempt tokens (large: keeps them at the base)")
    beta_2: NonNegative = _f(0.05, "KL weight on the other model tokens (attempt 2 in stage I, both in II)")
    alpha: NonNegative = _f(10.0, "stage II bonus: attempt 2's reward is r2 + alpha * (r2 - r1)")
    feedback: Literal["instruction", "env"] = _f(
        "instruction", "between the attempts: the fixed instruction (SCoRe) or the env's own feedback")
    instruction: str = _f(CORRECTION_INSTRUCTION, "the feedback turn's text with feedback=instruction")

    def __post_init__(self) -> None:
        self.steps = self.stage1_steps + self.stage2_steps
        super().__post_init__()
        if self.steps < 1:
            raise ValueError("SCoReConfig: stage1_steps + stage2_steps must be at least 1")
        if self.kl_beta:
            raise ValueError("SCoReConfig.kl_beta: must be 0; SCoRe's KL weights are beta_1 (first attempt, "
                             "stage I) and beta_2 (the rest)")
        if not self.instruction.strip():
            raise ValueError("SCoReConfig.instruction: must not be empty (it is the whole feedback turn)")

    def stage(self, step: int) -> int:
        """The stage (1 or 2) of the step that follows ``step`` steps done."""
        return 1 if step < self.stage1_steps else 2
