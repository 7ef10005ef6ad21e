"""The one config of learning from search trees (:class:`~selfgym.agents.tree_learning.TreeLearner`), apart from
the trainer so that reading it (an experiment file's ``method: {name: tree-search}`` is generated from it) does not
load torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ..params import AtLeastOne, Fraction, NonNegative, Positive, check_arguments, documented as _f
from .policy import Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT


@dataclass
class TreeLearningConfig:
    """Hyper-parameters of learning from search trees: Agent Q's DPO on preference pairs of sibling branches
    (``objective: dpo``), ReST-MCTS*'s fine-tuning on the successful root-to-leaf branches (``star``), or both in
    one round (SFT first, then DPO from the fine-tuned model). An experiment file's ``method: {name: tree-search,
    ...}`` is generated from this class (same fields, types, ranges, defaults, help), less what the run sets
    itself. Each field's ``metadata["help"]`` says what it does."""

    objective: Literal["dpo", "star", "both"] = _f("dpo", "dpo: preference pairs of siblings (Agent Q); star: SFT "
                                                         "on successful branches (ReST-MCTS*); both: SFT then DPO")
    rounds: AtLeastOne = _f(1, "rounds of search with the current policy, then learning (Agent Q's iterated "
                               "off-policy DPO)")
    search: Literal["expand", "mcts"] = _f("expand", "expand: best-of-k tree expansion (k replies at every open "
                                                    "node until every branch ends); mcts: TreeSearch (PUCT over "
                                                    "forks, the model's self-critique as priors) within env_steps")
    k: AtLeastOne = _f(4, "replies sampled at each node the search expands")
    greedy: bool = _f(False, "mcts: one of a node's first k proposals is the greedy reply (the tree then holds the "
                             "policy's own answer, a small model's best; the others are sampled)")
    env_steps: AtLeastOne = _f(16, "env steps the mcts search may take on one task, every branch counted")
    max_depth: AtLeastOne | None = _f(None, "env steps from the root the default search expands (None: until "
                                            "every branch ends, at the env's max_steps at the latest)")
    sampling: Sampling = _f(None, "how the search samples replies",
                            lambda: Sampling(max_new_tokens=256, temperature=0.8, top_p=0.95))
    min_margin: NonNegative = _f(0.5, "a pair needs its chosen sibling's value above the rejected one's by this "
                                      "much (env reward units; values are means of the rewards backed up)")
    max_pairs_per_node: AtLeastOne | None = _f(None, "at most this many pairs of one node's children, the widest "
                                                     "margins first (None: every pair above the margin)")
    beta: Positive = _f(0.1, "DPO's beta: how far the policy may move from the reference (higher: less)")
    dpo_learning_rate: Positive = _f(5e-5, "AdamW learning rate of DPO (constant)")
    dpo_epochs: AtLeastOne = _f(2, "passes over a round's preference pairs")
    learning_rate: Positive = _f(2e-4, "AdamW learning rate of the SFT on best branches (constant)")
    epochs: AtLeastOne = _f(2, "passes over a round's best-branch examples (SFT)")
    lora_r: AtLeastOne = _f(16, "LoRA rank")
    lora_alpha: AtLeastOne = _f(32, "LoRA scaling numerator (the update is scaled by lora_alpha / lora_r)")
    lora_dropout: Fraction = _f(0.05, "LoRA dropout")
    batch_size: AtLeastOne = _f(4, "examples (pairs for DPO) per forward/backward")
    gradient_accumulation_steps: AtLeastOne = _f(1, "forward/backward passes per optimizer step")
    max_length: AtLeastOne = _f(1024, "tokens of an example kept (prompt + completion)")
    system_prompt: str | None = _f(DEFAULT_SYSTEM_PROMPT, "the episodes' system message (None: none)")
    seed: int = _f(0, "seeds sampling and training")
    output_dir: str | None = _f(None, "trees.jsonl and each round's merged checkpoint go here (None: not saved)")
    gradient_checkpointing: bool | None = _f(
        None, "recompute activations in the backward pass to save memory; None: only on a GPU")

    def __post_init__(self) -> None:
        # the declared types and ranges above, checked as an experiment file's are
        problems = check_arguments(TreeLearningConfig,
                                   {f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if problems:
            raise ValueError("; ".join(f"TreeLearningConfig.{'.'.join(map(str, loc))}: {message}"
                                       for loc, message in problems))

    def sft_config(self) -> Any:
        """The :class:`~selfgym.agents.SelfTrainConfig` of the SFT path (STaR's ``finetune``) with these LoRA and
        optimiser settings."""
        from .self_training_config import SelfTrainConfig

        return SelfTrainConfig(method="star", lora_r=self.lora_r, lora_alpha=self.lora_alpha,
                               lora_dropout=self.lora_dropout, learning_rate=self.learning_rate, epochs=self.epochs,
                               batch_size=self.batch_size, gradient_accumulation_steps=self.gradient_accumulation_steps,
                               max_length=self.max_length, system_prompt=self.system_prompt, seed=self.seed,
                               gradient_checkpointing=self.gradient_checkpointing)
