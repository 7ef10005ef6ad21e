"""The one config of :class:`~selfgym.agents.grpo.GRPOTrainer`, apart from the trainer so that reading it (an
experiment file's ``method: {name: grpo}`` is generated from it) does not load torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Literal

from annotated_types import Ge, Interval

from ..params import AtLeastOne, Fraction, NonNegative, NonNegativeInt, Positive, check_arguments
from ..params import documented as _f
from .rollout import DEFAULT_SYSTEM_PROMPT


@dataclass
class GRPOConfig:
    """Everything a GRPO run depends on; a batch is ``tasks_per_step × group_size`` episodes. This is the one
    config of the trainer: an experiment file's ``method: {name: grpo, ...}`` is generated from it (same fields,
    types, ranges, defaults and help), less the fields the run sets itself (steps from the budget, the seed, the
    run folder, sampling from ``agent:``). Each field's ``metadata["help"]`` says what it does."""

    steps: AtLeastOne = _f(100, "training steps: rollouts, then epochs_per_step optimizer steps")
    tasks_per_step: AtLeastOne = _f(4, "tasks per training step")
    group_size: Annotated[int, Ge(2)] = _f(8, "G: episodes per task, compared with each other")
    max_new_tokens: AtLeastOne = _f(256, "tokens per reply")
    max_episode_tokens: AtLeastOne = _f(
        2048, "prompt + replies + observations, in tokens; an episode that would pass it ends there")
    temperature: Positive = _f(1.0, "sampling temperature (> 0: a group's episodes must differ)")
    top_p: Annotated[float, Interval(gt=0, le=1)] = _f(1.0, "nucleus sampling mass")
    system_prompt: str | None = _f(DEFAULT_SYSTEM_PROMPT, "the episodes' system message (None: none)")
    learning_rate: Positive = _f(1e-5, "AdamW learning rate (after warm-up, constant)")
    warmup_steps: NonNegativeInt = _f(0, "optimizer steps of linear warm-up")
    weight_decay: NonNegative = _f(0.0, "AdamW weight decay")
    max_grad_norm: Positive = _f(1.0, "gradient norm clipped to this before each optimizer step")
    epochs_per_step: AtLeastOne = _f(1, "optimizer steps on each batch (μ in the GRPO paper)")
    micro_batch_size: AtLeastOne = _f(4, "episodes per forward/backward; gradients accumulate over the batch")
    clip_epsilon: Positive = _f(0.2, "ε of the PPO-clipped ratio")
    clip_epsilon_high: Positive | None = _f(None, "DAPO's 'clip higher' upper ε (None: clip_epsilon)")
    kl_beta: NonNegative = _f(0.0, "weight of the KL penalty to the reference (base) model")
    scale_rewards: bool = _f(True, "divide advantages by the group's std (False: Dr. GRPO's unscaled ones)")
    loss_aggregation: Literal["token", "sequence"] = _f(
        "token", "average token losses over the batch's model tokens (DAPO) or per episode first (GRPO)")
    lora: bool = _f(True, "train LoRA adapters (False: full fine-tuning)")
    lora_r: AtLeastOne = _f(16, "LoRA rank")
    lora_alpha: AtLeastOne = _f(32, "LoRA scaling numerator (the update is scaled by lora_alpha / lora_r)")
    lora_dropout: Fraction = _f(0.0, "LoRA dropout; > 0 makes the trained distribution differ from the sampled")
    lora_target_modules: str | list[str] = _f("all-linear", "modules given LoRA adapters (peft's names)")
    bf16: bool | None = _f(None, "bf16 autocast (None: on CUDA, fp32 elsewhere)")
    gradient_checkpointing: bool = _f(False, "recompute activations in the backward pass to save memory")
    seed: int = _f(0, "seeds generation, the task sampler and the initialisation")
    output_dir: str | None = _f(None, "metrics and checkpoints go here; None: neither is written")
    save_every: NonNegativeInt = _f(0, "steps between checkpoints (0: only at the end of train())")
    keep_checkpoints: AtLeastOne = _f(2, "checkpoints kept (the oldest are deleted)")
    resume: bool = _f(True, "continue from the latest checkpoint in output_dir")
    tensorboard: bool = _f(True, "also log metrics for TensorBoard (in output_dir)")

    def __post_init__(self) -> None:
        # the declared types and ranges above, checked as an experiment file's are (one message per field)
        # (a subclass's derived fields, ``init=False``, are not arguments)
        given = {field.name: getattr(self, field.name) for field in dataclasses.fields(self) if field.init}
        problems = check_arguments(type(self), given)
        if problems:
            raise ValueError("; ".join(f"{type(self).__name__}.{'.'.join(map(str, loc))}: {message}"
                                       for loc, message in problems))
        if self.save_every and not self.output_dir:
            raise ValueError("save_every needs an output_dir to save checkpoints in")
