"""``selfgym run FILE.yaml``: an experiment from its config to its run folder, resumable after a kill.

A run folder holds::

    config.yaml        the resolved config (what was run)
    eval_tasks.jsonl   the held-out tasks, drawn once
    episodes.jsonl     every training episode (one trajectory per line, with its episode number)
    metrics.jsonl      one line per step of the method: success, mean difficulty, curriculum summary, time
    evals.jsonl        each evaluation: episodes seen, success, 95% interval (and with reflection)
    curriculum.json    the curriculum's state (also inside state.json)
    state.json         what a resume needs: episodes done, curriculum, the method's state (buffer, checkpoint)
    checkpoints/       the fine-tuned model of self-training methods (grpo/: the GRPO trainer's)
    plots/*.png        success and difficulty over the run

Everything is written atomically or appended line by line; ``state.json`` is the commit point. A resume drops
episode lines past it and continues from there with the same seeds, so a killed-and-resumed run ends with the
same number of episodes as an uninterrupted one. The runner owns the folder; what is played and learned is the
method's (:mod:`selfgym.experiments.methods`). An episode lost to the infrastructure (not the agent's doing) is
played again; one still lost is logged with its ``error``, and neither the curriculum nor the success rates
count it.
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

from ..curricula import CURRICULA
from ..curricula.base import Curriculum, TaskFamily
from ..curricula.families import ReasoningGymFamily, source_family
from ..envs.task import Task
from ..eval.stats import wilson_interval
from ..io import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from .config import ConfigError, ExperimentConfig, load_experiment
from .methods import METHODS, Context, Method, StepResult

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


class ExperimentRunner:
    """Runs one experiment config in ``run_dir`` (default: the config's ``output_dir``)."""

    def __init__(self, config: ExperimentConfig, run_dir: str | Path | None = None,
                 console: Console | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else config.run_dir
        self.console = console or Console()
        self.state: dict[str, Any] = {"episodes": 0, "batches": 0, "method": {}}
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
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
                if path.exists() else []
            kept = [row for row in read_jsonl(path)
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
        from ..envs.pools import pool_for

        config = self.config
        if config.executor != "local":
            raise ConfigError("executor 'ray' runs evaluations (`selfgym eval`); experiments run locally for now")
        logs = self._prepare_dir()
        self.recent_success.extend(m["batch_success"] for m in logs["metrics.jsonl"]
                                   if m["batch_success"] is not None)
        # the image and limits the env declares, or those its kwargs give; every env draws from this one pool
        pool = pool_for(config.env.id, config.env.parallel, config.env.kwargs)
        envs = [gym.make(config.env.id, pool=pool, **config.env.kwargs).unwrapped for _ in range(config.env.parallel)]
        try:
            families = build_families(config, envs[0])
            curriculum: Curriculum = CURRICULA[config.curriculum.name](families, seed=config.seed,
                                                                      **config.curriculum.params)
            if "curriculum" in self.state:
                curriculum.load_state_dict(self.state["curriculum"])
            eval_tasks = self._eval_tasks(families)
            method_state = self.state["method"]
            policy = build_policy(config, method_state.get("checkpoint"))
            method = METHODS[config.method.name](Context(config, self.run_dir, envs, curriculum, self.console),
                                                 policy, method_state)
            greedy = dataclasses.replace(policy.sampling, temperature=0.0, seed=config.eval.seed)
            done = self.state["episodes"]
            last = max((row["episodes"] for row in logs["evals.jsonl"]), default=-1)
            if last < 0 or self._evaluation_due(last, done):  # the first one, or one a kill cut short
                self._evaluate(envs, method.policy, eval_tasks, greedy)
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("success {task.fields[success]}"), TimeElapsedColumn(),
                          console=self.console) as progress:
                bar = progress.add_task(f"{config.name} ({config.method.name})", total=config.budget.episodes,
                                        completed=self.state["episodes"], success="-")
                while self.state["episodes"] < config.budget.episodes:
                    first = method.first_episode(self.state["episodes"])
                    started = time.perf_counter()
                    result = method.step(first)
                    self._log(result, curriculum, time.perf_counter() - started)
                    method.end_step(result)
                    self.state["episodes"] = first + result.episodes
                    self.state["batches"] += 1
                    self._commit(method, curriculum, progress, bar)
                    if self._evaluation_due(first, self.state["episodes"]):
                        self._evaluate(envs, method.policy, eval_tasks, greedy)
            method.finish()
            self.state["method"] = method.state_dict()
            atomic_write_json(self.run_dir / STATE, self.state)
            evals = read_jsonl(self.run_dir / "evals.jsonl")
            if evals[-1]["episodes"] != self.state["episodes"]:
                self._evaluate(envs, method.policy, eval_tasks, greedy)
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

    def _log(self, result: StepResult, curriculum: Curriculum, seconds: float) -> None:
        """A step's episodes (numbered from ``result.first``) into ``episodes.jsonl``, and one row into
        ``metrics.jsonl``: the method's metrics, the step's success (of the episodes played to their end),
        difficulty and families, episodes lost to the infrastructure, and the curriculum's levels."""
        trajectories = result.trajectories
        append_jsonl(self.run_dir / "episodes.jsonl",
                     [{"episode": result.first + i, **t.to_dict()} for i, t in enumerate(trajectories)])
        counted = [t for t in trajectories if t.error is None]
        row = {**result.metrics, "episodes": result.first + result.episodes, "seconds": seconds,
               "completion_tokens": sum(t.completion_tokens for t in trajectories),
               "batch_success": float(np.mean([t.success for t in counted])) if counted else None,
               "mean_difficulty": float(np.mean([t.task.difficulty for t in trajectories])),
               "families": sorted({t.task.family for t in trajectories}),
               "infra_errors": len(trajectories) - len(counted),
               "infra_replays": sum(t.meta.get("infra_replays", 0) for t in trajectories)}
        if hasattr(curriculum, "level"):
            row["levels"] = dict(curriculum.level)
        append_jsonl(self.run_dir / "metrics.jsonl", [row])
        if row["batch_success"] is not None:
            self.recent_success.append(row["batch_success"])

    def _commit(self, method: Method, curriculum: Curriculum, progress: Progress, bar) -> None:
        """Save the curriculum, the method's state and the run's (the commit point a resumed run starts from);
        show progress."""
        self.state["curriculum"] = curriculum.state_dict()
        self.state["method"] = method.state_dict()
        atomic_write_json(self.run_dir / "curriculum.json", self.state["curriculum"])
        atomic_write_json(self.run_dir / STATE, self.state)
        success = f"{np.mean(self.recent_success):.0%}" if self.recent_success else "-"
        progress.update(bar, completed=self.state["episodes"], success=success)

    def _evaluate(self, envs, policy, tasks: Sequence[Task], sampling) -> dict[str, Any]:
        from ..agents.reflexion import Reflexion, ReflexionConfig
        from ..agents.rollout import replay_lost, rollout_many

        with self.console.status(f"evaluating on {len(tasks)} held-out tasks..."):
            trajectories = rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=sampling)
            # an episode lost to the infrastructure is played again; one still lost is left out, and counted
            trajectories = replay_lost(envs, policy, trajectories, sampling=sampling)
            successes = [t.success for t in trajectories if t.error is None]
            row: dict[str, Any] = {"episodes": self.state["episodes"], "tasks": len(successes),
                                   "success": float(np.mean(successes)) if successes else 0.0,
                                   "interval": wilson_interval(sum(successes), len(successes)),
                                   "infra_errors": len(trajectories) - len(successes)}
            if self.config.eval.reflection:
                results = Reflexion(policy, config=ReflexionConfig(trials=2, actor_sampling=sampling)).run(envs, tasks)
                solved = sum(r.success for r in results)
                row.update(success_reflection=solved / len(tasks), interval_reflection=wilson_interval(solved, len(tasks)))
        append_jsonl(self.run_dir / "evals.jsonl", [row])
        return row

    # --- results -------------------------------------------------------------------------------------------------
    def _report(self) -> dict[str, Any]:
        evals = read_jsonl(self.run_dir / "evals.jsonl")
        metrics = read_jsonl(self.run_dir / "metrics.jsonl")
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
