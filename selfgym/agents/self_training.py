"""Self-training of an LLM agent on its own verified successes: STaR / rejection-sampling fine-tuning, and
Re-ReST (Dou et al., 2024), which also keeps failed attempts that a reflector corrected and the env verified.

One iteration, top to bottom:
1. ``collect``: ``samples_per_task`` sampled episodes per training task; successes are kept.
2. ``correct`` (Re-ReST only): each failure goes to the reflector with the env's feedback; it writes
   "Reflection: I should have ..." and a corrected attempt, played in the env on the same task and kept only if it
   succeeds.
3. ``sft_examples``: every assistant turn of a kept episode becomes one prompt-completion example whose prompt is
   the conversation as the *agent* saw it (the reflector's context is stripped), so the loss is on the model's
   own tokens only.
4. ``finetune``: LoRA (peft) through TRL's ``SFTTrainer``, merged into the policy's weights; the reflector can be
   fine-tuned on its verified corrections too.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ..envs.task import Task
from .hf import HFPolicy
from .policy import Policy, Sampling, ScriptedPolicy
from .rollout import env_class_of, play_batched, rollout_batch, rollout_many
from .self_training_config import SelfTrainConfig
from .trajectory import Trajectory

log = logging.getLogger(__name__)

CORRECTION_PREFIX = (
    "An earlier attempt at the task below failed. Here is that attempt and the environment's feedback.\n\n"
    "{attempt}\n\nFeedback: {feedback}\n\n"
    "Start your next reply with one sentence \"Reflection: I should have ...\", then give the corrected answer "
    "exactly in the format the task asks for.\n\nThe task:\n"
)


def collect(envs: Sequence[gym.Env], policy: Policy, tasks: Sequence[Task], samples_per_task: int, *,
            sampling: Sampling | None, seed: int, system_prompt: str | None) -> list[Trajectory]:
    """``samples_per_task`` episodes of each task, played ``len(envs)`` at a time with distinct seeds."""
    jobs = [(task, k) for task in tasks for k in range(samples_per_task)]
    # a distinct sampling seed per chunk: the same prompt sampled k times must give k different answers
    return rollout_many(envs, policy, [task for task, _ in jobs], seeds=[seed + k for _, k in jobs],
                        sampling_for=lambda start: dataclasses.replace(sampling, seed=seed + start)
                        if sampling is not None else None,
                        system_prompt=system_prompt, meta={"source": "sample"})


def failures_of(trajectories: Sequence[Trajectory]) -> list[Trajectory]:
    """The failed episodes: played to their end without success (one lost to the infrastructure is none)."""
    return [t for t in trajectories if not t.success and t.error is None]


def canonicalize(envs: Sequence[gym.Env], successes: Sequence[Trajectory], **kwargs: Any) -> list[Trajectory]:
    """Each one-step success replayed with its env's canonical reply (``canonical_reply``: the answer in the form
    the env asks for), kept when the env verifies it again; a success without such a form is kept as it was.
    Other keyword arguments go to :func:`rollout_batch` (the system prompt the successes were played with)."""
    env_class = env_class_of(envs[0])
    kept, replays, replies = [], [], []
    for trajectory in successes:
        reply = env_class.canonical_reply(trajectory.task, trajectory.steps[-1].info) \
            if len(trajectory.steps) == 1 else None
        (kept if reply is None else replays).append(trajectory)
        if reply is not None:
            replies.append(reply)
    played = play_batched(envs, len(replays), lambda chunk_envs, jobs, _: rollout_batch(
        chunk_envs, ScriptedPolicy([replies[j] for j in jobs]), [replays[j].task for j in jobs],
        seeds=[replays[j].seed for j in jobs], meta={"source": "canonical"}, **kwargs))
    return kept + [t for t in played if t.success]


def correction_prefix(failed: Trajectory, max_chars: int) -> str:
    attempt = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in failed.messages[1:] if m["role"] != "system")
    return CORRECTION_PREFIX.format(attempt=attempt[-max_chars:], feedback=failed.feedback[-max_chars:])


def correct(envs: Sequence[gym.Env], reflector: Policy, failures: Sequence[Trajectory], *,
            sampling: Sampling | None, seed: int, system_prompt: str | None, max_chars: int) -> list[Trajectory]:
    """Re-ReST's step 2: the reflector replays each failed task with the failure and its feedback in front of the
    task; returns every corrected episode (verified by the env: check ``.success``)."""
    prefixes = [correction_prefix(failed, max_chars) for failed in failures]
    kwargs = dict(system_prompt=system_prompt, sampling=sampling, meta={"source": "correction"})
    corrected = rollout_many(envs, reflector, [f.task for f in failures], seeds=[f.seed for f in failures],
                             first_message_prefixes=prefixes, **kwargs)
    for trajectory, prefix in zip(corrected, prefixes, strict=True):
        trajectory.meta["correction_prefix"] = prefix
    return corrected


def sft_examples(trajectories: Sequence[Trajectory]) -> list[dict[str, list[dict[str, str]]]]:
    """Prompt-completion examples (TRL's conversational format), one per assistant turn. A correction's first
    message loses the reflector's context, so the agent learns to give the corrected answer to the plain task."""
    examples = []
    for trajectory in trajectories:
        messages = [dict(m) for m in trajectory.messages]
        prefix = trajectory.meta.get("correction_prefix", "")
        first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
        if prefix and messages[first_user]["content"].startswith(prefix):
            messages[first_user]["content"] = messages[first_user]["content"][len(prefix):]
            for message in messages:  # the agent learns the corrected answer, not the reflector's diagnosis
                if message["role"] == "assistant":
                    message["content"] = strip_reflection(message["content"])
        for i, message in enumerate(messages):
            if message["role"] == "assistant":
                examples.append({"prompt": messages[:i], "completion": [message]})
    return examples


def strip_reflection(text: str) -> str:
    """``text`` without a leading "Reflection: ..." paragraph, when an answer follows it."""
    if not text.lstrip().startswith("Reflection:"):
        return text
    head, sep, rest = text.lstrip().partition("\n")
    return rest.lstrip("\n") if sep and rest.strip() else text


def finetune(policy: HFPolicy, examples: Sequence[dict], config: SelfTrainConfig, *, seed: int,
             save_to: str | Path | None = None,
             progress: Callable[[int, int], None] | None = None,
             on_log: Callable[[int, int, dict[str, float]], None] | None = None) -> dict[str, float]:
    """LoRA fine-tuning on ``examples`` with TRL's ``SFTTrainer`` (loss on completions only), merged into
    ``policy.model`` in place. bf16 on CUDA, fp32 on the CPU. Returns the trainer's final metrics.
    ``progress(step, steps)`` is called after every optimizer step (the trainer itself prints nothing);
    ``on_log(step, steps, logs)`` with the trainer's logs (``loss``, ``learning_rate``, ...) every tenth of the steps."""
    import datasets
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    if not examples:
        return {"train_loss": float("nan"), "examples": 0}
    datasets.disable_progress_bars()  # TRL's per-stage dataset bars; our caller shows progress
    on_gpu = policy.device.type == "cuda"
    checkpointing = on_gpu if config.gradient_checkpointing is None else config.gradient_checkpointing
    work_dir = Path(save_to or ".").resolve() / ".sft-work" if save_to else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
        args = SFTConfig(
            output_dir=str(work_dir or Path("/tmp") / f"selfgym-sft-{time.time_ns()}"),
            num_train_epochs=config.epochs, learning_rate=config.learning_rate,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps, max_length=config.max_length,
            completion_only_loss=True, packing=False, bf16=on_gpu, use_cpu=not on_gpu, seed=seed,
            save_strategy="no", report_to="none", logging_steps=0.1, disable_tqdm=True,
            lr_scheduler_type="constant", gradient_checkpointing=checkpointing,
        )
    policy.model.train()
    with warnings.catch_warnings():  # transformers' deprecation notices about TRL's own arguments, not ours
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
        trainer = SFTTrainer(model=policy.model, args=args, train_dataset=Dataset.from_list(list(examples)),
                             processing_class=policy.tokenizer, peft_config=lora_config(config),
                             callbacks=[progress_callback(progress, on_log)])
        result = train_and_merge(policy, trainer, save_to)
    return {"train_loss": float(result.training_loss), "examples": len(examples)}


def train_and_merge(policy: HFPolicy, trainer: Any, save_to: str | Path | None = None) -> Any:
    """Train ``trainer`` (a TRL trainer of ``policy.model`` with a LoRA adapter), merge the adapter into the
    policy's weights, remove the trainer's output folder and save the policy to ``save_to`` (atomically) when
    given. Returns ``trainer.train()``'s output."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints every log as a raw dict
    result = trainer.train()
    policy.model = trainer.model.merge_and_unload()
    policy.model.eval()
    shutil.rmtree(trainer.args.output_dir, ignore_errors=True)
    if save_to is not None:
        save_checkpoint(policy, save_to)
    return result


def lora_config(config: Any) -> Any:
    """peft's ``LoraConfig`` on every linear layer, from a config's ``lora_r``, ``lora_alpha``, ``lora_dropout``."""
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def progress_callback(progress: Callable[[int, int], None] | None,
                      on_log: Callable[[int, int, dict[str, float]], None] | None) -> Any:
    """A transformers ``TrainerCallback`` calling ``progress(step, steps)`` after every optimizer step and
    ``on_log(step, steps, logs)`` with the trainer's logs."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if progress is not None:
                progress(state.global_step, state.max_steps)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if on_log is not None and logs:
                on_log(state.global_step, state.max_steps, dict(logs))

    return Progress()


def save_checkpoint(policy: HFPolicy, path: str | Path) -> Path:
    """Save model and tokenizer to ``path`` atomically (a temporary folder renamed into place)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    policy.model.save_pretrained(tmp)
    policy.tokenizer.save_pretrained(tmp)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


@dataclass
class IterationReport:
    iteration: int
    sampled: int
    sampled_successes: int
    corrections_tried: int = 0
    corrections_verified: int = 0
    examples: int = 0
    train_loss: float = float("nan")
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SelfTrainer:
    """Runs ``config.iterations`` of STaR or Re-ReST for ``policy`` (an :class:`HFPolicy`, trained in place).

    ``reflector`` writes the corrections (Re-ReST; default: the policy itself, as in the paper's single-model
    setting); with ``config.train_reflector`` and a separate :class:`HFPolicy` reflector, it is fine-tuned on its
    verified corrections (with the reflection context kept, as that is the reflector's input).
    """

    def __init__(self, policy: HFPolicy, config: SelfTrainConfig | None = None, reflector: Policy | None = None):
        self.policy = policy
        self.config = config or SelfTrainConfig()
        self.reflector = reflector or policy
        self.reports: list[IterationReport] = []
        torch.manual_seed(self.config.seed)
        np.random.seed(self.config.seed)  # noqa: NPY002 - peft/trl draw from the global generators

    def run(self, envs: Sequence[gym.Env], tasks: Sequence[Task]) -> list[IterationReport]:
        config = self.config
        for iteration in range(1, config.iterations + 1):
            start = time.perf_counter()
            seed = config.seed + 10_000 * iteration
            sampled = collect(envs, self.policy, tasks, config.samples_per_task, sampling=config.sampling,
                              seed=seed, system_prompt=config.system_prompt)
            kept = [t for t in sampled if t.success]
            report = IterationReport(iteration, len(sampled), len(kept))
            corrections: list[Trajectory] = []
            if config.method == "re-rest":
                failures = failures_of(sampled)
                tried = correct(envs, self.reflector, failures, sampling=config.reflector_sampling, seed=seed,
                                system_prompt=config.system_prompt, max_chars=config.max_attempt_chars)
                corrections = [t for t in tried if t.success]
                report.corrections_tried, report.corrections_verified = len(tried), len(corrections)
            examples = sft_examples(kept + corrections)
            save_to = Path(config.output_dir) / f"iteration-{iteration}" if config.output_dir else None
            metrics = finetune(self.policy, examples, config, seed=seed, save_to=save_to)
            report.examples, report.train_loss = len(examples), metrics["train_loss"]
            if config.train_reflector and corrections and isinstance(self.reflector, HFPolicy) \
                    and self.reflector is not self.policy:
                reflector_examples = [{"prompt": t.messages[: i], "completion": [t.messages[i]]}
                                      for t in corrections for i, m in enumerate(t.messages) if m["role"] == "assistant"]
                finetune(self.reflector, reflector_examples, config, seed=seed + 1)
            report.seconds = time.perf_counter() - start
            log.info("self-training iteration %d: %s", iteration, report.as_dict())
            self.reports.append(report)
        return self.reports
