"""``method: {name: self-training}`` (STaR) and ``{name: re-rest}`` (Re-ReST): fine-tune on verified episodes."""

from __future__ import annotations

from typing import Any

from ...agents.self_training import canonicalize, correct, failures_of, finetune, sft_examples
from ...agents.self_training_config import SelfTrainConfig
from ...agents.trajectory import Trajectory
from ..progress import training_progress
from .base import Method, StepResult


class SelfTraining(Method):
    """Each step plays ``samples_per_task`` episodes of curriculum tasks (``env.parallel`` episodes a step) into a
    buffer; once the buffer holds ``train_every`` tasks, a round fine-tunes the policy (LoRA) on its successes
    and, for Re-ReST, on the failures the policy corrected as a reflector and the env verified. Each round is
    saved to ``checkpoints/round-N``, which a resumed run loads."""

    name = "self-training"

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffer: list[dict[str, Any]] = list(state.get("buffer", []))
        self.rounds: int = state.get("rounds", 0)
        self.checkpoint: str | None = state.get("checkpoint")

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": self.buffer, "rounds": self.rounds, "checkpoint": self.checkpoint}

    def step(self, first: int) -> StepResult:
        k = self.config.method.samples_per_task
        n = min(len(self.context.envs), self.config.budget.episodes - first)
        tasks = [self.context.curriculum.next_task() for _ in range(max(1, n // k))]
        jobs = [task for task in tasks for _ in range(k)][:n]
        trajectories = self.play(jobs, first)
        self.buffer += [t.to_dict() for t in trajectories]
        return StepResult(trajectories, first, len(jobs))

    def end_step(self, result: StepResult) -> None:
        if len({row["task"]["id"] for row in self.buffer}) >= self.config.method.train_every:
            self.train_round()

    def finish(self) -> None:
        if self.buffer:  # the episodes since the last round still teach the final model
            self.train_round()

    def train_round(self) -> None:
        """Fine-tune on the buffered successes (and Re-ReST's verified corrections); empty the buffer."""
        method = self.config.method
        buffered = [Trajectory.from_dict(row) for row in self.buffer]
        kept = [t for t in buffered if t.success]
        if method.canonical:  # learn each right answer in the form the env asks for, verified again
            kept = canonicalize(self.context.envs, kept, **self.system_prompt_kwargs())
        if method.name == "re-rest":
            tried = correct(self.context.envs, self.policy, failures_of(buffered), sampling=self.policy.sampling,
                            seed=self.config.seed, system_prompt=self.config.agent.system_prompt,
                            max_chars=method.max_attempt_chars)
            kept += [t for t in tried if t.success]
        examples = sft_examples(kept)
        if examples:
            self.rounds += 1
            # a new folder per round: the state keeps pointing at the last committed one until the next commit
            checkpoint = self.context.run_dir / "checkpoints" / f"round-{self.rounds}"
            # the spec is SelfTrainConfig less what the run sets (see config.SelfTrainingSpec.run_sets)
            train = SelfTrainConfig(**method.model_dump(exclude={"name", "canonical", "train_every"}),
                                    method="star" if method.name == "self-training" else "re-rest",
                                    seed=self.config.seed)
            with training_progress(self.context.console, f"fine-tuning on {len(examples)} examples",
                                   train.batch_size * train.gradient_accumulation_steps) as (progress, on_log):
                finetune(self.policy, examples, train, seed=self.config.seed + self.rounds, save_to=checkpoint,
                         progress=progress, on_log=on_log)
            self.checkpoint = str(checkpoint)
        self.buffer = []
