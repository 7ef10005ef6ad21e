"""Multi-turn GRPO for LLM policies on any selfgym env: one config, one trainer, read top to bottom.

One training step:

1. **Tasks.** ``tasks_per_step`` tasks from a task source (sampled with the trainer's seeded generator) or
   from a :class:`~selfgym.curricula.Curriculum` (which is then told every outcome).
2. **Rollouts** (:func:`play_episodes`). ``group_size`` episodes of each task, played in lockstep: every turn
   the replies of all unfinished episodes are sampled in one batch and the envs step in threads. An episode's
   token sequence is built as it is played: the chat template's prompt, then each reply's sampled ids (mask 1:
   the model's own tokens, its end-of-turn token included), then the template's text around the env's next
   observation (mask 0). The next reply is generated from exactly those ids, so the loss is computed on what
   was sampled, in the context it was sampled in (replies are never decoded and re-tokenised).
3. **Advantages.** An episode's return ``r`` is the sum of its rewards; ``A = (r - mean) / (std + 1e-4)``
   within its group (``scale_rewards=False``: ``r - mean``). A group whose episodes all scored the same
   teaches nothing. (:meth:`GRPOTrainer.loss_weights` decides this; a subclass may weigh an episode's tokens
   apart, with their own KL weights: :class:`~selfgym.agents.score.SCoReTrainer`.)
4. **Update.** Over the mask-1 tokens only: the PPO-clipped ratio ``min(ρA, clip(ρ, 1-ε, 1+ε_high)A)`` with
   ``ρ = π/π_old``, plus ``β`` times the k3 estimate of KL(π || π_ref), ``exp(q) - q - 1`` with
   ``q = log π_ref - log π``. The reference is the base model (LoRA adapters switched off, or a frozen copy
   for full fine-tuning). Token losses are averaged over all model tokens of the batch (``"token"``, as DAPO)
   or per episode then over episodes (``"sequence"``, the original GRPO); the batch goes through in
   micro-batches whose gradients accumulate into one AdamW step per epoch (``epochs_per_step``; with 1,
   ``π_old = π`` and the ratio is 1, as in most GRPO runs).
5. **Bookkeeping.** Metrics (reward, success, KL, entropy, tokens/s, time per phase) to ``metrics.jsonl`` and
   TensorBoard; every ``save_every`` steps an atomic checkpoint from which a resumed run continues exactly.

bf16 autocast on CUDA, fp32 on the CPU. LoRA (peft) by default, or full fine-tuning.

Why a trainer of our own rather than TRL's ``GRPOTrainer``: TRL *can* express the multi-turn masking — its
``rollout_func`` may return an ``env_mask`` that removes environment tokens from the loss, and
:mod:`selfgym.agents.trl_env` gives TRL users exactly that, built on :func:`play_episodes`. What the Trainer
around it does not give a selfgym run: (1) atomic checkpoints — transformers' ``Trainer`` writes
``checkpoint-N`` in place, so a kill while saving leaves a partial folder that a resume picks up; (2) exact
resumption by construction — here generation is seeded per step and the checkpoint holds every RNG state, the
optimizer, the task sampler and the curriculum, and metrics logged after it are dropped; (3) tasks chosen by a
selfgym curriculum that learns from each group's outcomes, where TRL draws prompts from a fixed dataset; (4)
stability — ``rollout_func`` is experimental in TRL 1.16 (it warns that it may change or be removed); (5)
per-phase timings (generation, env, backward) that ``benchmarks/rl_bench.py`` reports.

>>> policy = HFPolicy("smollm2")                                                        # doctest: +SKIP
>>> envs = [gym.make("selfgym/Math-v0", max_steps=1) for _ in range(16)]                # doctest: +SKIP
>>> trainer = GRPOTrainer(policy, envs, GRPOConfig(steps=50, output_dir="runs/grpo"))  # doctest: +SKIP
>>> history = trainer.train()  # resumes from runs/grpo/checkpoints after a cut-off     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import logging
import os
import random
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from ..curricula.base import SampledTasks, TaskChooser
from ..envs.sources import TaskList
from ..envs.task import Task, TaskSource
from .grpo_config import GRPOConfig
from .hf import HFPolicy, seeded_rng
from .metrics import MetricsLogger
from .policy import Completion, Sampling
from .rollout import DEFAULT_SYSTEM_PROMPT, EpisodeState, play_batched, play_lockstep
from .trajectory import Trajectory

log = logging.getLogger(__name__)


# --- rollouts: episodes as token sequences with a mask on the model's own tokens ----------------------------
@dataclass
class TokenEpisode:
    """One played episode: its trajectory (text, rewards, info) and its tokens.

    ``ids`` is the whole episode as the model read and wrote it; ``mask[i]`` is 1 where the model sampled
    token ``i`` (replies and their end-of-turn tokens) and 0 for the prompt and the env's observations.
    ``length_capped``: the episode was ended because another reply would not fit in ``max_episode_tokens``.
    ``reply_spans[k]``: ``(start, end)`` of the ``k``-th reply in ``ids``, the one ``trajectory.steps[k]`` played
    (for losses that weigh replies differently, e.g. SCoRe's two attempts).
    """

    trajectory: Trajectory
    ids: list[int]
    mask: list[int]
    prompt_length: int
    length_capped: bool = False
    reply_spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def reward(self) -> float:
        return self.trajectory.total_reward

    @property
    def model_tokens(self) -> int:
        return sum(self.mask)


@dataclass
class RolloutTiming:
    generation_s: float = 0.0
    env_s: float = 0.0
    generated_tokens: int = 0

    def add(self, other: RolloutTiming) -> None:
        self.generation_s += other.generation_s
        self.env_s += other.env_s
        self.generated_tokens += other.generated_tokens


# Put in the place of a reply to find where the template puts reply text (and so what comes after it).
_REPLY_SENTINEL = "\u2063selfgym-reply-\u2063"


class TokenEpisodeState(EpisodeState):
    """An episode played from token ids: besides the conversation, ``ids`` (the whole episode as the model read
    and wrote it) and ``mask`` (1 on the tokens the model sampled)."""

    def __init__(self, env: gym.Env, task: Task, seed: int | None, system_prompt: str | None,
                 policy: HFPolicy) -> None:
        super().__init__(env, task, seed, system_prompt)
        self.policy = policy
        self.ids = policy.prompt_ids(self.messages) if self.error is None else []
        self.mask = [0] * len(self.ids)
        self.prompt_length = len(self.ids)
        self.length_capped = False
        self.reply_spans: list[tuple[int, int]] = []

    def play(self, completion: Completion) -> None:
        """Step the env with the decoded reply; extend ids and mask with the reply and the observation's turn."""
        reply_ids, history = completion.token_ids, list(self.messages)
        self.reply_spans.append((len(self.ids), len(self.ids) + len(reply_ids)))
        self.ids += reply_ids
        self.mask += [1] * len(reply_ids)
        super().play(completion)
        if not self.done:
            ended = reply_ids[-1] in self.policy.eos_token_ids
            end_text = self.policy.tokenizer.decode(reply_ids[-1:]) if ended else ""
            observation_ids = observation_turn_ids(self.policy, history, self.steps[-1].observation, end_text)
            self.ids += observation_ids
            self.mask += [0] * len(observation_ids)

    def token_episode(self, meta: dict[str, Any]) -> TokenEpisode:
        return TokenEpisode(self.trajectory(meta), self.ids, self.mask, self.prompt_length, self.length_capped,
                            self.reply_spans)


def observation_turn_ids(policy: HFPolicy, history: Sequence[dict[str, str]], observation: str,
                         reply_end: str) -> list[int]:
    """The tokens the chat template puts between a reply and the next one: the end of the assistant's turn
    (less ``reply_end``, what the model itself generated of it), the user turn with ``observation``, and the
    opening of the next assistant turn."""
    messages = [*history, {"role": "assistant", "content": _REPLY_SENTINEL},
                {"role": "user", "content": observation}]
    rendered = policy.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    _, found, after = rendered.partition(_REPLY_SENTINEL)
    if not found:
        raise ValueError(f"the chat template of {policy.name} does not show an assistant reply's text; "
                         "multi-turn training needs it to")
    if reply_end and after.startswith(reply_end):
        after = after[len(reply_end):]
    return policy.tokenizer(after, add_special_tokens=False)["input_ids"]


def generate_ids(policy: HFPolicy, contexts: Sequence[list[int]], sampling: Sampling) -> list[list[int]]:
    """Sampled continuations of token-id contexts, each cut after its first end-of-turn token (kept)."""
    batch = policy.tokenizer.pad({"input_ids": list(contexts)}, padding=True, padding_side="left",
                                 return_tensors="pt").to(policy.device)
    width = batch["input_ids"].shape[1]
    config = policy.generation_config(sampling, sampling.max_new_tokens)
    with torch.no_grad():
        output = policy.model.generate(**batch, generation_config=config)
    replies = []
    for row in output[:, width:].tolist():
        # A row that never ended was never padded; a row that ended is padded after its end-of-turn token.
        end = next((i for i, token in enumerate(row) if token in policy.eos_token_ids), len(row) - 1)
        replies.append(row[:end + 1])
    return replies


def play_episodes(policy: HFPolicy, envs: Sequence[gym.Env], tasks: Sequence[Task], *, sampling: Sampling,
                  max_episode_tokens: int, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
                  seeds: Sequence[int | None] | None = None,
                  meta: dict[str, Any] | None = None) -> tuple[list[TokenEpisode], RolloutTiming]:
    """Play ``tasks[i]`` in ``envs[i]`` with ``policy``, all at once, as token sequences with a mask on the
    model's tokens (the rollout module's lockstep loop, generating from token ids).

    Each turn, the unfinished episodes' next replies are sampled in one batch (``sampling``; its ``seed``
    makes them reproducible) and the envs step in threads. An episode ends when its env terminates or
    truncates, when it is lost to the infrastructure (``trajectory.error``), or when another reply of
    ``sampling.max_new_tokens`` would not fit in ``max_episode_tokens``.
    """
    if len(tasks) != len(envs):
        raise ValueError(f"got {len(envs)} envs but {len(tasks)} tasks")
    if sampling.stop:
        raise ValueError("stop strings are not supported in training rollouts: the reply must end on a token")
    seeds = list(seeds) if seeds is not None else [None] * len(envs)
    if policy.context_length is not None:
        max_episode_tokens = min(max_episode_tokens, policy.context_length)
    timing = RolloutTiming()

    def cap(episode: TokenEpisodeState) -> None:
        if max_episode_tokens - len(episode.ids) < sampling.max_new_tokens:
            episode.done = episode.length_capped = True

    def generate(active: list[TokenEpisodeState]) -> list[Completion]:
        start = time.perf_counter()
        replies = generate_ids(policy, [episode.ids for episode in active], sampling)
        seconds = time.perf_counter() - start
        timing.generation_s += seconds
        timing.generated_tokens += sum(len(reply) for reply in replies)
        completions = []
        for episode, reply in zip(active, replies, strict=True):
            ended = reply[-1] in policy.eos_token_ids
            text = policy.tokenizer.decode(reply[:-1] if ended else reply, skip_special_tokens=True)
            completions.append(Completion(text, len(episode.ids), len(reply), seconds, token_ids=reply))
        return completions

    was_training = policy.model.training
    policy.model.eval()
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(envs))) as threads:
            start = time.perf_counter()
            episodes = list(threads.map(
                lambda i: TokenEpisodeState(envs[i], tasks[i], seeds[i], system_prompt, policy), range(len(envs))))
            timing.env_s += time.perf_counter() - start
            with seeded_rng(sampling.seed, policy.device):
                start = time.perf_counter()
                play_lockstep(episodes, generate, threads, before_turn=cap)
                timing.env_s += time.perf_counter() - start - timing.generation_s
    finally:
        policy.model.train(was_training)
    base_meta = {"policy": policy.name, **(meta or {})}
    return [episode.token_episode(base_meta) for episode in episodes], timing


# --- the loss -----------------------------------------------------------------------------------------------
def group_advantages(rewards: Sequence[float], group_size: int, *, scale: bool = True) -> np.ndarray:
    """``(r - group mean) / (group std + 1e-4)`` for consecutive groups of ``group_size`` returns."""
    returns = np.asarray(rewards, dtype=np.float64)
    if returns.size % group_size:
        raise ValueError(f"{returns.size} returns do not split into groups of {group_size}")
    groups = returns.reshape(-1, group_size)
    advantages = groups - groups.mean(axis=1, keepdims=True)
    if scale:
        advantages /= groups.std(axis=1, keepdims=True) + 1e-4
    return advantages.reshape(-1)


# Per episode: one value for all its tokens, or one per token of its ``ids`` (an array of ``len(ids)``).
TokenValues = float | np.ndarray


@dataclass
class MicroBatch:
    """Padded episodes: ``ids``/``attention`` of shape (B, L); ``mask`` over the predicted tokens
    ``ids[:, start + 1:]`` (all before ``start + 1`` is prompt in every row: its logits are skipped).
    ``advantages`` is (B,) when every episode has one advantage, else (B, L - start - 1) like ``mask``;
    ``kl_weights`` (the same shape as ``mask``) is given when the KL weight varies by token."""

    ids: torch.Tensor
    attention: torch.Tensor
    mask: torch.Tensor
    advantages: torch.Tensor
    start: int
    model_tokens: torch.Tensor  # per row: its episode's count of model tokens (for per-episode averaging)
    kl_weights: torch.Tensor | None = None

    @classmethod
    def of(cls, episodes: Sequence[TokenEpisode], advantages: Sequence[TokenValues], pad_id: int,
           device: torch.device, kl_weights: Sequence[TokenValues] | None = None) -> MicroBatch:
        width = max(len(e.ids) for e in episodes)
        ids = torch.full((len(episodes), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(episodes), width), dtype=torch.long)
        mask = torch.zeros((len(episodes), width), dtype=torch.float32)
        for row, episode in enumerate(episodes):
            ids[row, :len(episode.ids)] = torch.tensor(episode.ids)
            attention[row, :len(episode.ids)] = 1
            mask[row, :len(episode.ids)] = torch.tensor(episode.mask, dtype=torch.float32)
        start = min(e.prompt_length for e in episodes) - 1

        def per_token(values: Sequence[TokenValues]) -> torch.Tensor:
            table = torch.zeros((len(episodes), width), dtype=torch.float32)
            for row, (episode, value) in enumerate(zip(episodes, values, strict=True)):
                table[row, :len(episode.ids)] = torch.as_tensor(value, dtype=torch.float32)
            return table[:, start + 1:].to(device)

        if any(np.ndim(value) for value in advantages):
            advantage_tensor = per_token(advantages)
        else:
            advantage_tensor = torch.tensor([float(a) for a in advantages], dtype=torch.float32, device=device)
        return cls(ids.to(device), attention.to(device), mask[:, start + 1:].to(device), advantage_tensor, start,
                   torch.tensor([max(1, e.model_tokens) for e in episodes], dtype=torch.float32,
                                device=device),
                   per_token(kl_weights) if kl_weights is not None else None)


def token_logprobs(model: torch.nn.Module, batch: MicroBatch, temperature: float, *,
                   entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities of ``batch.ids[:, start + 1:]`` under ``model`` at ``temperature`` (the distribution
    the tokens were sampled from), and the entropies of those next-token distributions when asked for."""
    width = batch.ids.shape[1]
    keep = width - batch.start
    kwargs = {"logits_to_keep": keep} if _accepts_logits_to_keep(model) else {}
    logits = model(input_ids=batch.ids, attention_mask=batch.attention, **kwargs).logits
    logits = logits[:, -keep:-1].float() / temperature
    normaliser = logits.logsumexp(dim=-1)
    logprobs = logits.gather(-1, batch.ids[:, batch.start + 1:].unsqueeze(-1)).squeeze(-1) - normaliser
    entropies = None
    if entropy:
        with torch.no_grad():
            entropies = normaliser - (logits.softmax(dim=-1) * logits).sum(dim=-1)
    return logprobs, entropies


def _accepts_logits_to_keep(model: torch.nn.Module) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def clipped_token_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                       reference_logprobs: torch.Tensor | None, *, clip_low: float, clip_high: float,
                       kl_beta: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Per-token loss ``-min(ρA, clip(ρ)A) + β·KL_k3``, whether each token's ratio was clipped, and the KL.

    ``advantages``: (B,), one per episode, or (B, T), one per token; ``kl_beta``: a number, or (B, T) weights."""
    ratio = torch.exp(logprobs - old_logprobs)
    advantage = advantages if advantages.dim() == 2 else advantages.unsqueeze(1)
    unclipped = ratio * advantage
    clipped = ratio.clamp(1 - clip_low, 1 + clip_high) * advantage
    loss = -torch.minimum(unclipped, clipped)
    kl = None
    if reference_logprobs is not None:
        log_ratio = reference_logprobs - logprobs
        kl = torch.exp(log_ratio) - log_ratio - 1
        if isinstance(kl_beta, torch.Tensor) or kl_beta:
            loss = loss + kl_beta * kl
    return loss, (clipped < unclipped).float(), kl


# --- the trainer --------------------------------------------------------------------------------------------
class GRPOTrainer:
    """Trains ``policy`` (an :class:`HFPolicy`, changed in place) with GRPO on the envs' tasks.

    Args:
        policy: the model to train. With LoRA, ``policy.model`` becomes the peft model (adapters on), so the
            policy acts with the trained weights during and after training. Full fine-tuning trains the
            weights in the dtype they were loaded in (bf16 on a GPU by default: load the policy with
            ``dtype=torch.float32`` to keep fp32 master weights under bf16 autocast).
        envs: episodes are played ``len(envs)`` at a time (``tasks_per_step × group_size`` plays a whole batch
            at once). Envs of any kind: each episode is reset with ``options={"task": task}``.
        config: hyper-parameters; see :class:`GRPOConfig`.
        tasks: a :class:`~selfgym.envs.TaskSource` (sampled with the trainer's generator), a list of tasks, or
            a :class:`~selfgym.curricula.Curriculum` (``next_task()``; told each episode's success). Default:
            the first env's own source.

    With ``config.output_dir`` and ``config.resume``, a trainer made on a folder holding checkpoints loads the
    latest one: a run cut off at any point and started again with the same arguments (and a freshly loaded
    base model) ends in the state an uninterrupted run reaches.
    """

    log_name = "GRPO"  # in the log's step lines

    def __init__(self, policy: HFPolicy, envs: Sequence[gym.Env], config: GRPOConfig | None = None, *,
                 tasks: TaskSource | Sequence[Task] | TaskChooser | None = None) -> None:
        self.config = config = config or GRPOConfig()
        if not envs:
            raise ValueError("GRPOTrainer needs at least one env")
        self.policy, self.envs = policy, list(envs)
        random.seed(config.seed)
        np.random.seed(config.seed)  # noqa: NPY002 - third-party code draws from the global generators
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.tasks = self._task_chooser(tasks)
        self.device = policy.device
        self.autocast_bf16 = config.bf16 if config.bf16 is not None else self.device.type == "cuda"
        self.model = self._prepare_model()
        self.reference = None
        if not config.lora and self.needs_reference():
            self.reference = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                           lr=config.learning_rate, weight_decay=config.weight_decay)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.last_episodes: list[TokenEpisode] = []  # the episodes of the latest step, for loggers
        self.output_dir = Path(config.output_dir) if config.output_dir else None
        latest = None
        if self.output_dir is not None and config.resume:
            latest = latest_checkpoint(self.checkpoint_dir)
        if latest is not None:
            self.load_checkpoint(latest)
            log.info("resumed GRPO from %s (step %d)", latest, self.step)
        self.metrics = None
        if self.output_dir is not None:
            self.metrics = MetricsLogger(self.output_dir, tensorboard=config.tensorboard,
                                         resume_step=self.step if latest is not None else None)

    # -- setup -----------------------------------------------------------------------------------------------
    def needs_reference(self) -> bool:
        """Whether the loss has a KL term (full fine-tuning then keeps a frozen copy of the base model)."""
        return self.config.kl_beta > 0

    def _task_chooser(self, tasks: TaskSource | Sequence[Task] | TaskChooser | None) -> TaskChooser:
        if isinstance(tasks, TaskChooser):
            return tasks
        if tasks is None:
            source = self.envs[0].unwrapped.source
        elif isinstance(tasks, TaskSource):
            source = tasks
        else:
            source = TaskList(tasks, "grpo")
        return SampledTasks(source, self.rng)  # the trainer's generator: saved with its checkpoints

    def _prepare_model(self) -> torch.nn.Module:
        config, model = self.config, self.policy.model
        if config.lora:
            from peft import LoraConfig, get_peft_model

            lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                              target_modules=config.lora_target_modules, task_type="CAUSAL_LM")
            with warnings.catch_warnings():  # transformers' deprecation notices about peft's calls, not ours
                warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
                model = get_peft_model(model, lora)  # adapters are fp32 even on a bf16 base (peft's autocast)
        else:
            model.requires_grad_(True)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            if config.lora:
                model.enable_input_require_grads()
        self.policy.model = model
        return model

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _reference_model(self) -> Iterator[torch.nn.Module | None]:
        """The reference policy: the base model under the LoRA adapters, a frozen copy, or none."""
        if self.config.lora:
            with self.model.disable_adapter():
                yield self.model
        else:
            yield self.reference

    # -- training --------------------------------------------------------------------------------------------
    def train(self, until: int | None = None) -> list[dict[str, Any]]:
        """Train to ``config.steps`` (or stop after step ``until``); returns this run's metrics, one per step.

        Saves a checkpoint every ``save_every`` steps and at the end (when there is an ``output_dir``).
        """
        end = min(self.config.steps, until) if until is not None else self.config.steps
        try:
            while self.step < end:
                self.train_step()
                if self.config.save_every and self.step % self.config.save_every == 0:
                    self.save_checkpoint()
            if self.output_dir is not None and not self._checkpoint_path().exists():
                self.save_checkpoint()
        finally:
            self.model.eval()
        return self.history

    def train_step(self) -> dict[str, Any]:
        """One step: rollouts, advantages, update, metrics. Returns the step's metrics."""
        config = self.config
        started = time.perf_counter()
        tasks = [self.tasks.next_task() for _ in range(config.tasks_per_step)]
        episodes, timing = self._rollouts(tasks)
        self.last_episodes = episodes
        lost = np.array([episode.trajectory.error is not None for episode in episodes])
        for episode in episodes:
            if episode.trajectory.error is None:  # an episode lost to the infrastructure is no outcome
                self.tasks.update(episode.trajectory.task, float(episode.trajectory.success))
        rewards = [episode.reward for episode in episodes]
        advantages, kl_weights, own_metrics = self.loss_weights(episodes)
        # a group with an episode still lost after its replays is incomplete: it teaches nothing this step
        complete = np.repeat(~lost.reshape(-1, config.group_size).any(axis=1), config.group_size)
        advantages = [advantage * keep for advantage, keep in zip(advantages, complete, strict=True)]
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = config.learning_rate * min(1.0, (self.step + 1) / max(1, config.warmup_steps))
        update = self._update(episodes, advantages, kl_weights)
        self.step += 1
        elapsed = time.perf_counter() - started
        groups = np.asarray(rewards).reshape(-1, config.group_size)
        metrics = {
            "reward": float(np.mean(rewards)), "reward_std": float(np.std(rewards)),
            "success": float(np.mean([e.trajectory.success for e in episodes])),
            "infra_errors": int(lost.sum()),
            "groups_with_signal": float(np.mean(groups.std(axis=1) > 0)),
            **update,
            "episodes": len(episodes), "turns": float(np.mean([len(e.trajectory.steps) for e in episodes])),
            "model_tokens": sum(e.model_tokens for e in episodes),
            "generated_tokens": timing.generated_tokens,
            "length_capped": float(np.mean([e.length_capped for e in episodes])),
            "generation_s": timing.generation_s, "env_s": timing.env_s, "step_s": elapsed,
            "tokens_per_s": timing.generated_tokens / elapsed, "episodes_per_s": len(episodes) / elapsed,
            "generation_tokens_per_s": timing.generated_tokens / max(timing.generation_s, 1e-9),
            "lr": self.optimizer.param_groups[0]["lr"],
            **own_metrics,
        }
        self.history.append({"step": self.step, **metrics})
        if self.metrics is not None:
            self.metrics.log(self.step, metrics)
        log.info("%s step %d: reward %.3f success %.3f kl %.4f (%.1fs)", self.log_name, self.step,
                 metrics["reward"], metrics["success"], metrics["kl"], elapsed)
        return metrics

    def loss_weights(self, episodes: Sequence[TokenEpisode]
                     ) -> tuple[list[TokenValues], list[TokenValues] | None, dict[str, float]]:
        """What the loss weighs each episode's tokens by: advantages (per episode, one number or one per token of
        its ``ids``), KL weights (None: ``config.kl_beta`` on every token) and metrics of this step's own. GRPO:
        the group advantage of the episode's return on all its tokens. Subclasses weigh parts of an episode
        apart (:class:`~selfgym.agents.score.SCoReTrainer`: the two attempts)."""
        rewards = [episode.reward for episode in episodes]
        advantages = group_advantages(rewards, self.config.group_size, scale=self.config.scale_rewards)
        return list(advantages), None, {}

    def _rollouts(self, tasks: Sequence[Task]) -> tuple[list[TokenEpisode], RolloutTiming]:
        config = self.config
        jobs = [task for task in tasks for _ in range(config.group_size)]
        timing = RolloutTiming()

        def play(envs: Sequence[gym.Env], indices: list[int], start: int) -> list[TokenEpisode]:
            # one sampling seed per chunk (from the run's seed, the step and the chunk), one env seed per episode
            chunk = start // len(self.envs)
            seed = int(np.random.SeedSequence([config.seed, self.step, chunk]).generate_state(1)[0])
            sampling = Sampling(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                top_p=config.top_p, seed=seed)
            with self._autocast():
                played, chunk_timing = play_episodes(
                    self.policy, envs, [jobs[i] for i in indices], sampling=sampling,
                    max_episode_tokens=config.max_episode_tokens, system_prompt=config.system_prompt,
                    seeds=[seed + i - start for i in indices], meta={"source": "grpo", "step": self.step + 1})
            timing.add(chunk_timing)
            return played

        # episodes lost to the infrastructure are played again (the one replay path of every rollout)
        episodes = play_batched(self.envs, len(jobs), play, trajectory_of=lambda episode: episode.trajectory)
        return episodes, timing

    def _update(self, episodes: list[TokenEpisode], advantages: Sequence[TokenValues],
                kl_weights: Sequence[TokenValues] | None = None) -> dict[str, float]:
        """``epochs_per_step`` optimizer steps on the batch; returns loss, KL, entropy, clip fraction, grad
        norm and times. ``advantages`` and ``kl_weights``: see :meth:`loss_weights`."""
        config = self.config
        clip_high = config.clip_epsilon_high if config.clip_epsilon_high is not None else config.clip_epsilon

        def kl_term(i: int) -> bool:
            return bool(np.any(kl_weights[i])) if kl_weights is not None else bool(config.kl_beta)

        total_tokens = max(1, sum(e.model_tokens for e in episodes))
        # Episodes with advantage 0 add nothing to the clipped term: without a KL term, they are skipped.
        chosen = [i for i, e in enumerate(episodes) if e.model_tokens and (np.any(advantages[i]) or kl_term(i))]
        pad_id, size = self.policy.tokenizer.pad_token_id, config.micro_batch_size
        batches = [MicroBatch.of([episodes[i] for i in part], [advantages[i] for i in part], pad_id, self.device,
                                 None if kl_weights is None else [kl_weights[i] for i in part])
                   for part in (chosen[k:k + size] for k in range(0, len(chosen), size))]
        started = time.perf_counter()
        with torch.no_grad(), self._autocast(), self._reference_model() as reference:
            references = [None if reference is None else token_logprobs(reference, b, config.temperature)[0]
                          for b in batches]
        reference_s = time.perf_counter() - started
        self.model.train()
        started = time.perf_counter()
        old: list[torch.Tensor] | None = None
        if config.epochs_per_step > 1:
            with torch.no_grad(), self._autocast():
                old = [token_logprobs(self.model, b, config.temperature)[0] for b in batches]
        sums = {"loss": 0.0, "kl": 0.0, "entropy": 0.0, "clipped": 0.0}
        grad_norm = 0.0
        for epoch in range(config.epochs_per_step):
            for index, batch in enumerate(batches):
                with self._autocast():
                    logprobs, entropies = token_logprobs(self.model, batch, config.temperature,
                                                         entropy=epoch == 0)
                old_logprobs = old[index] if old is not None else logprobs.detach()
                token_loss, clipped, kl = clipped_token_loss(
                    logprobs, old_logprobs, batch.advantages, references[index], clip_low=config.clip_epsilon,
                    clip_high=clip_high,
                    kl_beta=batch.kl_weights if batch.kl_weights is not None else config.kl_beta)
                if config.loss_aggregation == "token":
                    loss = (token_loss * batch.mask).sum() / total_tokens
                else:
                    loss = ((token_loss * batch.mask).sum(dim=1) / batch.model_tokens).sum() / len(episodes)
                loss.backward()
                if epoch == 0:
                    sums["loss"] += loss.item()
                    sums["entropy"] += (entropies * batch.mask).sum().item()
                    sums["kl"] += (kl * batch.mask).sum().item() if kl is not None else float("nan")
                sums["clipped"] += (clipped * batch.mask).sum().item()
            trainable = [p for p in self.model.parameters() if p.requires_grad]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        # Skipped episodes have zero KL contribution only when there was no KL term; their entropy is not
        # measured, so these are means over the tokens that went through the model.
        measured = max(1.0, float(sum(b.mask.sum().item() for b in batches)))
        return {"loss": sums["loss"], "kl": sums["kl"] / measured if batches else float("nan"),
                "entropy": sums["entropy"] / measured if batches else float("nan"),
                "clip_fraction": sums["clipped"] / (measured * config.epochs_per_step),
                "grad_norm": grad_norm, "train_s": time.perf_counter() - started, "reference_s": reference_s}

    # -- checkpoints -----------------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        if self.output_dir is None:
            raise ValueError("checkpoints need config.output_dir")
        return self.output_dir / "checkpoints"

    def _checkpoint_path(self) -> Path:
        return self.checkpoint_dir / f"step-{self.step:06d}"

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-NNNNNN`` atomically (a temporary folder renamed into place); keep the last
        ``keep_checkpoints``. It holds the trainable weights, the optimizer, every RNG state, the task
        chooser's state and the step; with LoRA also ``adapter/`` (``PeftModel.from_pretrained`` reads it)."""
        final = self._checkpoint_path()
        tmp = final.with_name(f".{final.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        trainable = {name: p.detach().cpu() for name, p in self.model.named_parameters() if p.requires_grad}
        torch.save(trainable, tmp / "trainable.pt")
        torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(self._state(), tmp / "state.pt")
        if self.config.lora:
            self.model.save_pretrained(tmp / "adapter")
        for path in tmp.rglob("*"):
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        _fsync_dir(final.parent)
        for old in sorted(checkpoints(self.checkpoint_dir))[:-self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore weights, optimizer, RNG states, task chooser and step from a checkpoint folder."""
        path = Path(path)
        trainable = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
        parameters = {name: p for name, p in self.model.named_parameters() if p.requires_grad}
        if set(trainable) != set(parameters):
            raise ValueError(f"{path} was saved from a different model or LoRA setup: its trainable weights "
                             f"{sorted(set(trainable) ^ set(parameters))[:4]} ... do not match")
        with torch.no_grad():
            for name, value in trainable.items():
                parameters[name].copy_(value)
        optimizer = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(optimizer)
        self._load_state(torch.load(path / "state.pt", weights_only=True))

    def _state(self) -> dict[str, Any]:
        numpy_state = np.random.get_state()  # noqa: NPY002
        state = {
            "step": self.step, "config": _plain_config(self.config),
            "python_rng": random.getstate(),
            "numpy_rng": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "task_rng": self.rng.bit_generator.state,
        }
        state["tasks"] = self.tasks.state_dict()
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        random.setstate(state["python_rng"])
        kind, keys, *rest = state["numpy_rng"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), *rest))  # noqa: NPY002
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.rng.bit_generator.state = state["task_rng"]
        if "tasks" in state:
            self.tasks.load_state_dict(state["tasks"])

    def save_pretrained(self, path: str | Path) -> Path:
        """Save what inference needs: the LoRA adapter (or the whole model) and the tokenizer."""
        path = Path(path)
        self.model.save_pretrained(path)
        self.policy.tokenizer.save_pretrained(path)
        return path

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()


_CHECKPOINT_NAME = re.compile(r"step-(\d+)")


def checkpoints(directory: str | Path) -> list[Path]:
    """The complete checkpoints in ``directory`` (temporary folders of an interrupted save are not)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and _CHECKPOINT_NAME.fullmatch(p.name))


def latest_checkpoint(directory: str | Path) -> Path | None:
    found = checkpoints(directory)
    return found[-1] if found else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _plain_config(config: GRPOConfig) -> dict[str, Any]:
    return {key: value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
            for key, value in dataclasses.asdict(config).items()}


__all__ = ["GRPOConfig", "GRPOTrainer", "TokenEpisode", "checkpoints", "clipped_token_loss",
           "group_advantages", "latest_checkpoint", "observation_turn_ids", "play_episodes", "token_logprobs"]
