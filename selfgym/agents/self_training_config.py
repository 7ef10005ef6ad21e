"""The one config of STaR and Re-ReST (:class:`~selfgym.agents.self_training.SelfTrainer` and ``finetune``), apart
from the trainer so that reading it (an experiment file's ``method: {name: self-training}`` is generated from it)
does not load torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ..params import AtLeastOne, Fraction, Positive, check_arguments, documented as _f
from .policy import Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT


@dataclass
class SelfTrainConfig:
    """Hyper-parameters of STaR and Re-ReST (``method``); LoRA and optimiser settings follow common small-model
    SFT defaults. An experiment file's ``method: {name: self-training | re-rest, ...}`` is generated from this
    class (same fields, types, ranges, defaults, help), less what the run sets itself. Each field's
    ``metadata["help"]`` says what it does."""

    method: Literal["star", "re-rest"] = _f("re-rest", "STaR: learn verified successes; Re-ReST: also verified "
                                                     "corrections of the failures")
    iterations: AtLeastOne = _f(1, "rounds of sampling then fine-tuning (SelfTrainer.run)")
    samples_per_task: AtLeastOne = _f(1, "episodes sampled per task (k)")
    sampling: Sampling = _f(None, "how episodes are sampled",
                            lambda: Sampling(max_new_tokens=256, temperature=0.8, top_p=0.95))
    reflector_sampling: Sampling = _f(None, "how the reflector samples corrections",
                                      lambda: Sampling(max_new_tokens=384, temperature=0.7))
    train_reflector: bool = _f(False, "also fine-tune a separate reflector on its verified corrections")
    lora_r: AtLeastOne = _f(16, "LoRA rank")
    lora_alpha: AtLeastOne = _f(32, "LoRA scaling numerator (the update is scaled by lora_alpha / lora_r)")
    lora_dropout: Fraction = _f(0.05, "LoRA dropout")
    learning_rate: Positive = _f(2e-4, "AdamW learning rate (constant)")
    epochs: AtLeastOne = _f(2, "passes over the examples of a round")
    batch_size: AtLeastOne = _f(4, "examples per forward/backward")
    gradient_accumulation_steps: AtLeastOne = _f(1, "forward/backward passes per optimizer step")
    max_length: AtLeastOne = _f(1024, "tokens of an example kept (prompt + completion)")
    max_attempt_chars: AtLeastOne = _f(3000, "characters of a failed attempt (and its feedback) a correction sees")
    system_prompt: str | None = _f(DEFAULT_SYSTEM_PROMPT, "the episodes' system message (None: none)")
    seed: int = _f(0, "seeds sampling and training")
    output_dir: str | None = _f(None, "each iteration's merged checkpoint is saved here (None: not saved)")
    gradient_checkpointing: bool | None = _f(
        None, "recompute activations in the backward pass to save memory; None: only on a GPU, where a long "
              "episode may need it (on the CPU memory is plentiful at these sizes and it only slows training)")

    def __post_init__(self) -> None:
        # the declared types and ranges above, checked as an experiment file's are
        problems = check_arguments(SelfTrainConfig, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if problems:
            raise ValueError("; ".join(f"SelfTrainConfig.{'.'.join(map(str, loc))}: {message}"
                                       for loc, message in problems))
