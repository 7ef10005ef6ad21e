"""``selfgym run FILE.yaml``: an experiment from its config to its run folder, resumable after a kill.

A run folder holds::

    config.yaml        the resolved config (what was run)
    eval_tasks.jsonl   the held-out tasks, drawn once
    episodes.jsonl     every training episode (one trajectory per line, with its episode number)
    metrics.jsonl      one line per batch: success, mean difficulty, curriculum summary, time
    evals.jsonl        each evaluation: episodes seen, success, 95% interval (and with reflection)
    curriculum.json    the curriculum's state (also inside state.json)
    state.json         what a resume needs: episodes done, curriculum, training buffer, checkpoint
    checkpoints/       the fine-tuned model of self-training methods
    plots/*.png        success and difficulty over the run

Everything is written atomically or appended line by line; ``state.json`` is the commit point. A resume drops
episode lines past it and continues from there with the same seeds, so a killed-and-resumed run ends with the
same number of episodes as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..agents.metrics import metric_value
from ..agents.trajectory import Trajectory
from ..envs.task import Task
from ..eval.stats import wilson_interval
from ..io import atomic_write_json, atomic_write_text
from . import CURRICULA
from .base import Curriculum, TaskFamily
from .config import ConfigError, ExperimentConfig, load_experiment
from .families import ReasoningGymFamily, source_family

STATE = "state.json"


def build_policy(config: ExperimentConfig, checkpoint: str | None = None):
    """The agent's policy: a checkpoint of this run when there is one, else what the config names."""
    from ..agents.policy import Sampling, ScriptedPolicy

    agent = config.agent
    sampling = Sampling(max_new_tokens=agent.max_new_tokens, temperature=agent.temperature, top_p=agent.top_p)
    if agent.backend == "scripted":
        return ScriptedPolicy(agent.replies, cycle=True, sampling=sampling)
    if agent.backend == "openai":
        from ..agents.openai_policy import OpenAIPolicy

        return OpenAIPolicy(agent.model, base_url=agent.base_url, api_key=os.environ.get(agent.api_key_env),
                            sampling=sampling)
    from ..agents.hf import HFPolicy

    return HFPolicy(checkpoint or agent.model, sampling=sampling, batch_size=agent.batch_size)


def build_families(config: ExperimentConfig, env: gym.Env) -> list[TaskFamily]:
    if config.env.families:
        return [ReasoningGymFamily(f.name, f.levels, seed=config.seed) for f in config.env.families]
    return [source_family(env.unwrapped.source)]


def _read_lines(path: Path) -> list[dict]:
    return _parse_lines(path.read_text(encoding="utf-8").splitlines() if path.exists() else [])


def _parse_lines(lines: list[str]) -> list[dict]:
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line torn by a kill
            continue
    return rows


def _append(path: Path, rows: Sequence[dict]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class ExperimentRunner:
    """Runs one experiment config in ``run_dir`` (default: the config's ``output_dir``)."""

    def __init__(self, config: ExperimentConfig, run_dir: str | Path | None = None,
                 console: Console | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else config.run_dir
        self.console = console or Console()
        self.state: dict[str, Any] = {"episodes": 0, "batches": 0, "checkpoint": None, "buffer": [],
                                      "finetunes": 0}
        self.recent_success: deque[float] = deque(maxlen=10)  # batch success rates shown by the progress bar

    # --- set-up and resume ---------------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, console: Console | None = None) -> ExperimentRunner:
        run_dir = Path(run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"{run_dir}: not a run folder (no config.yaml); start it with `selfgym run FILE.yaml`")
        runner = cls(load_experiment(run_dir / "config.yaml"), run_dir, console)
        if (run_dir / STATE).is_file():
            runner.state = json.loads((run_dir / STATE).read_text())
        return runner

    def _prepare_dir(self) -> dict[str, list[dict]]:
        """Write the config and cut the logs back to the last commit; returns each log's kept rows."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / "config.yaml", self._check_same_config())
        # drop what a kill left past the last commit
        done = self.state["episodes"]
        logs = {}
        for name, key in (("episodes.jsonl", "episode"), ("metrics.jsonl", "episodes"), ("evals.jsonl", "episodes")):
            path = self.run_dir / name
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            kept = [row for row in _parse_lines(lines)
                    if row[key] < done or (name != "episodes.jsonl" and row[key] == done)]
            if len(kept) != len(lines):  # rows past the commit point, or a torn line
                atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept))
            logs[name] = kept
        return logs

    def _check_same_config(self) -> str:
        """The resolved config; a ``ConfigError`` when the run folder holds a run of a different one."""
        resolved = yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False)
        existing = self.run_dir / "config.yaml"
        if (self.run_dir / STATE).exists() and existing.exists() and existing.read_text() != resolved:
            raise ConfigError(f"{self.run_dir} holds a run of another config; resume it with `selfgym run --resume "
                              f"{self.run_dir}` or choose another output_dir")
        return resolved

    def _eval_tasks(self, families: Sequence[TaskFamily]) -> list[Task]:
        path = self.run_dir / "eval_tasks.jsonl"
        if path.exists():
            return [Task.from_json(line) for line in path.read_text().splitlines() if line.strip()]
        rng = np.random.default_rng(self.config.eval.seed)
        tasks, seen = [], set()
        for _ in range(self.config.eval.tasks * 20):
            family = families[int(rng.integers(len(families)))]
            task = family.make(int(rng.integers(family.levels)), rng)
            if task.id not in seen:
                seen.add(task.id)
                tasks.append(task)
            if len(tasks) == self.config.eval.tasks:
                break
        atomic_write_text(path, "".join(task.to_json() + "\n" for task in tasks))
        return tasks

    # --- the run -------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from ..sandbox import SandboxPool

        config = self.config
        if config.executor != "local":
            raise ConfigError("executor 'ray' runs evaluations (`selfgym eval`); experiments run locally for now")
        logs = self._prepare_dir()
        self.recent_success.extend(m["batch_success"] for m in logs["metrics.jsonl"])
        pool = SandboxPool(size=config.env.parallel)
        envs = [gym.make(config.env.id, pool=pool, **config.env.kwargs).unwrapped for _ in range(config.env.parallel)]
        try:
            families = build_families(config, envs[0])
            curriculum: Curriculum = CURRICULA[config.curriculum.name](families, seed=config.seed,
                                                                      **config.curriculum.params)
            if "curriculum" in self.state:
                curriculum.load_state_dict(self.state["curriculum"])
            eval_tasks = self._eval_tasks(families)
            policy = build_policy(config, self.state["checkpoint"])
            greedy = dataclasses.replace(policy.sampling, temperature=0.0, seed=config.eval.seed)
            done = self.state["episodes"]
            last = max((row["episodes"] for row in logs["evals.jsonl"]), default=-1)
            if last < 0 or self._evaluation_due(last, done):  # the first one, or one a kill cut short
                self._evaluate(envs, policy, eval_tasks, greedy)
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("success {task.fields[success]}"), TimeElapsedColumn(),
                          console=self.console) as progress:
                bar = progress.add_task(f"{config.name} ({config.method.name})", total=config.budget.episodes,
                                        completed=self.state["episodes"], success="-")
                if config.method.name == "grpo":
                    self._grpo(envs, policy, curriculum, progress, bar, eval_tasks, greedy)
                while self.state["episodes"] < config.budget.episodes:
                    done = self.state["episodes"]
                    self._batch(envs, policy, curriculum, progress, bar)
                    if self._evaluation_due(done, self.state["episodes"]):
                        self._evaluate(envs, policy, eval_tasks, greedy)
            if self.state["buffer"]:  # the episodes since the last round still teach the final model
                policy = self._finetune(envs, policy)
                atomic_write_json(self.run_dir / STATE, self.state)
            evals = _read_lines(self.run_dir / "evals.jsonl")
            if evals[-1]["episodes"] != self.state["episodes"]:
                self._evaluate(envs, policy, eval_tasks, greedy)
        finally:
            for env in envs:
                env.close()
            pool.close()
        return self._report()

    def _evaluation_due(self, since: int, episodes: int) -> bool:
        """Whether a multiple of ``eval.every`` lies in ``(since, episodes]`` before the end of the budget (the
        final evaluation is made anyway): batches and GRPO steps need not divide ``every``."""
        every = self.config.eval.every
        return bool(every) and episodes // every > since // every and episodes < self.config.budget.episodes

    def _batch(self, envs, policy, curriculum: Curriculum, progress: Progress, bar) -> None:
        from ..agents.reflexion import Reflexion, ReflexionConfig
        from ..agents.rollout import rollout_batch

        config, start = self.config, time.perf_counter()
        done = self.state["episodes"]
        n = min(len(envs), config.budget.episodes - done)
        tasks = [curriculum.next_task() for _ in range(n)]
        sampling = dataclasses.replace(policy.sampling, seed=config.seed * 1_000_003 + done)
        system_prompt = config.agent.system_prompt
        kwargs = {"system_prompt": system_prompt} if system_prompt is not None else {}
        if config.method.name == "reflexion":
            reflexion = Reflexion(policy, config=ReflexionConfig(trials=config.method.trials,
                                                                  memory_size=config.method.memory_size,
                                                                  actor_sampling=sampling, **kwargs))
            results = reflexion.run(envs[:n], tasks, seed=done)
            trajectories = [r.trajectories[-1] for r in results]
            for result, trajectory in zip(results, trajectories, strict=True):
                trajectory.meta.update(trials=len(result.trajectories), reflections=result.reflections)
        else:
            trajectories = rollout_batch(envs[:n], policy, tasks, seeds=[done + i for i in range(n)],
                                         sampling=sampling, **kwargs)
        for task, trajectory in zip(tasks, trajectories, strict=True):
            curriculum.update(task, float(trajectory.success))
        if config.method.name in ("self-training", "re-rest"):
            self.state["buffer"] += [t.to_dict() for t in trajectories]
        self.state["episodes"] = done + n
        self.state["batches"] += 1
        batch_success = self._log(done, trajectories, curriculum, {
            "episodes": self.state["episodes"], "seconds": time.perf_counter() - start,
            "completion_tokens": sum(t.completion_tokens for t in trajectories)})
        if config.method.name in ("self-training", "re-rest") and \
                len({row["task"]["id"] for row in self.state["buffer"]}) >= config.method.train_every:
            policy = self._finetune(envs, policy)
        self._commit(curriculum, batch_success, progress, bar)

    def _log(self, first: int, trajectories: Sequence[Trajectory], curriculum: Curriculum,
             metrics: dict[str, Any]) -> float:
        """A batch's episodes (numbered from ``first``) into ``episodes.jsonl``, and one row into
        ``metrics.jsonl``: ``metrics`` with the batch's success, difficulty and families, and the curriculum's
        levels. Returns the batch's success rate."""
        _append(self.run_dir / "episodes.jsonl",
                [{"episode": first + i, **t.to_dict()} for i, t in enumerate(trajectories)])
        row = {**metrics, "batch_success": float(np.mean([t.success for t in trajectories])),
               "mean_difficulty": float(np.mean([t.task.difficulty for t in trajectories])),
               "families": sorted({t.task.family for t in trajectories})}
        if hasattr(curriculum, "level"):
            row["levels"] = dict(curriculum.level)
        _append(self.run_dir / "metrics.jsonl", [row])
        return row["batch_success"]

    def _commit(self, curriculum: Curriculum, batch_success: float, progress: Progress, bar) -> None:
        """Save the curriculum and the state (the commit point a resumed run starts from); show progress."""
        self.state["curriculum"] = curriculum.state_dict()
        atomic_write_json(self.run_dir / "curriculum.json", self.state["curriculum"])
        atomic_write_json(self.run_dir / STATE, self.state)
        self.recent_success.append(batch_success)
        progress.update(bar, completed=self.state["episodes"], success=f"{np.mean(self.recent_success):.0%}")

    def _grpo(self, envs, policy, curriculum: Curriculum, progress: Progress, bar, eval_tasks: Sequence[Task],
              greedy) -> None:
        """GRPO steps until the budget: ``tasks_per_step × group_size`` episodes a step, tasks from the
        curriculum, each episode a line of ``episodes.jsonl`` and each step one of ``metrics.jsonl``; held-out
        evaluations every ``eval.every`` episodes. The trainer checkpoints (atomically, RNG and curriculum
        included) into ``grpo/`` after every step and resumes from there; its own ``metrics.jsonl`` and
        TensorBoard logs are in the same folder."""
        from ..agents.grpo import GRPOConfig, GRPOTrainer
        from ..agents.rollout import DEFAULT_SYSTEM_PROMPT

        config, method, agent = self.config, self.config.method, self.config.agent
        per_step = method.tasks_per_step * method.group_size
        trainer = GRPOTrainer(policy, envs, GRPOConfig(
            steps=max(1, config.budget.episodes // per_step), tasks_per_step=method.tasks_per_step,
            group_size=method.group_size, max_new_tokens=agent.max_new_tokens, temperature=max(agent.temperature, 1e-3),
            top_p=agent.top_p, system_prompt=agent.system_prompt or DEFAULT_SYSTEM_PROMPT,
            learning_rate=method.learning_rate, kl_beta=method.kl_beta, lora_r=method.lora_r,
            lora_alpha=2 * method.lora_r, seed=config.seed, output_dir=str(self.run_dir / "grpo"), save_every=1,
            keep_checkpoints=1), tasks=curriculum)
        while trainer.step < trainer.config.steps:
            done = trainer.step * per_step  # not state["episodes"]: see the kill case below
            metrics = trainer.train_step()
            trajectories = [episode.trajectory for episode in trainer.last_episodes]
            episodes = min(config.budget.episodes, trainer.step * per_step)
            # Logs first, then the checkpoint, then the state (the commit point): a kill before the state is
            # written drops these rows on resume, and the step is played again or, if its checkpoint was
            # written, kept without its rows (a gap in the episode numbers).
            batch_success = self._log(done, trajectories, curriculum, {
                **{key: metric_value(value) for key, value in metrics.items()}, "episodes": episodes})
            trainer.save_checkpoint()
            self.state["episodes"] = episodes
            self._commit(curriculum, batch_success, progress, bar)
            if self._evaluation_due(done, episodes) and trainer.step < trainer.config.steps:
                self._evaluate(envs, policy, eval_tasks, greedy)
        self.state["episodes"] = config.budget.episodes  # what is left of the budget is less than one step
        atomic_write_json(self.run_dir / STATE, self.state)

    def _finetune(self, envs, policy):
        """Self-training round on the buffered episodes: successes (and, for Re-ReST, verified corrections)."""
        from ..agents.self_training import SelfTrainConfig, correct, finetune, sft_examples

        config = self.config
        buffered = [Trajectory.from_dict(row) for row in self.state["buffer"]]
        kept = [t for t in buffered if t.success]
        if config.method.name == "re-rest":
            failures = [t for t in buffered if not t.success]
            tried = correct(envs, policy, failures, sampling=policy.sampling, seed=config.seed,
                            system_prompt=config.agent.system_prompt, max_chars=3000)
            kept += [t for t in tried if t.success]
        train_config = SelfTrainConfig(epochs=config.method.epochs, learning_rate=config.method.learning_rate,
                                       lora_r=config.method.lora_r, lora_alpha=2 * config.method.lora_r,
                                       seed=config.seed)
        examples = sft_examples(kept)
        if examples:
            self.state["finetunes"] += 1
            # a new folder per round: state.json keeps pointing at the last committed one until the next commit
            checkpoint = self.run_dir / "checkpoints" / f"round-{self.state['finetunes']}"
            with self.console.status(f"fine-tuning on {len(examples)} examples..."):
                finetune(policy, examples, train_config, seed=config.seed + self.state["finetunes"], save_to=checkpoint)
            self.state["checkpoint"] = str(checkpoint)
        self.state["buffer"] = []
        return policy

    def _evaluate(self, envs, policy, tasks: Sequence[Task], sampling) -> dict[str, Any]:
        from ..agents.reflexion import Reflexion, ReflexionConfig
        from ..agents.rollout import rollout_many

        with self.console.status(f"evaluating on {len(tasks)} held-out tasks..."):
            trajectories = rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=sampling)
            successes = [t.success for t in trajectories]
            row: dict[str, Any] = {"episodes": self.state["episodes"], "tasks": len(tasks),
                                   "success": float(np.mean(successes)),
                                   "interval": wilson_interval(sum(successes), len(successes))}
            if self.config.eval.reflection:
                results = Reflexion(policy, config=ReflexionConfig(trials=2, actor_sampling=sampling)).run(envs, tasks)
                solved = sum(r.success for r in results)
                row.update(success_reflection=solved / len(tasks), interval_reflection=wilson_interval(solved, len(tasks)))
        _append(self.run_dir / "evals.jsonl", [row])
        return row

    # --- results -------------------------------------------------------------------------------------------------
    def _report(self) -> dict[str, Any]:
        evals = _read_lines(self.run_dir / "evals.jsonl")
        metrics = _read_lines(self.run_dir / "metrics.jsonl")
        table = Table("episodes seen", "held-out success", "95% interval", title=f"{self.config.name}: evaluations")
        for row in evals:
            low, high = row["interval"]
            table.add_row(str(row["episodes"]), f"{row['success']:.1%}", f"{low:.1%} - {high:.1%}")
        self.console.print(table)
        plot = plot_run(self.run_dir, evals, metrics)
        self.console.print(f"run folder: {self.run_dir}  plot: {plot}")
        return {"episodes": self.state["episodes"], "evals": evals, "plot": str(plot)}


def plot_run(run_dir: Path, evals: list[dict], metrics: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    if metrics:
        x = [m["episodes"] for m in metrics]
        success = np.array([m["batch_success"] for m in metrics])
        window = max(1, len(success) // 10)
        smooth = np.convolve(success, np.ones(window) / window, mode="same")
        left.plot(x, smooth, color="tab:blue", alpha=0.6, label=f"training success ({window}-batch mean)")
        right.plot(x, [m["mean_difficulty"] for m in metrics], color="tab:orange")
    if evals:
        x = [e["episodes"] for e in evals]
        y = [e["success"] for e in evals]
        err = np.array([[e["success"] - e["interval"][0], e["interval"][1] - e["success"]] for e in evals]).T
        left.errorbar(x, y, yerr=err, fmt="o-", color="black", capsize=4, label="held-out success (95% CI)")
    left.set(xlabel="training episodes", ylabel="success rate", ylim=(-0.02, 1.02), title="Success")
    left.legend(loc="best", fontsize=8)
    right.set(xlabel="training episodes", ylabel="mean difficulty level", title="Tasks the curriculum chose")
    fig.tight_layout()
    path = run_dir / "plots" / "run.png"
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
