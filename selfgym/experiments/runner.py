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
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from rich.console import Console
from rich.progress import Progress, TextColumn
from rich.table import Table

from ..curricula import CURRICULA
from ..curricula.base import Curriculum, Excluding, TaskFamily
from ..curricula.self_evolving import with_default_audit
from ..curricula.families import ReasoningGymFamily, source_family
from ..envs.task import Task
from ..eval.stats import wilson_interval
from ..io import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from .config import ConfigError, ExperimentConfig, load_experiment
from .methods import METHODS, Context, Method, StepResult
from .progress import phase_progress

STATE = "state.json"


def build_policy(config: ExperimentConfig, checkpoint: str | None = None):
    """The agent's policy: a checkpoint of this run when there is one, else what the config names."""
    from ..agents.spec import build_policy as build

    return build(config.agent, config.agent.sampling(), checkpoint=checkpoint)


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
        config = self.config
        logs = self._prepare_dir()
        self.recent_success.extend(m["batch_success"] for m in logs["metrics.jsonl"]
                                   if m["batch_success"] is not None)
        # One set of envs per distinct env kwargs (training's, and each held-out setting's that differs), made
        # by the executor (here, or in env workers of a Ray cluster: `executor:`), each set on sandbox pools of
        # the image and limits the env declares or its kwargs give; containers start when an env first needs
        # one (some never do, like Math-v0 without tools). The executor closes them all.
        kwargs_of = {name: {**config.env.kwargs, **kwargs} for name, kwargs in self._eval_settings().items()}
        distinct = [dict(config.env.kwargs)] + [k for k in kwargs_of.values() if k != config.env.kwargs]
        distinct = [k for i, k in enumerate(distinct) if k not in distinct[:i]]
        with config.executor.build() as executor:
            env_sets = [executor.make_envs(config.env.id, config.env.parallel, kwargs) for kwargs in distinct]
            envs = env_sets[0]
            self._eval_envs = {name: env_sets[distinct.index(kwargs)] for name, kwargs in kwargs_of.items()}
            families = build_families(config, envs[0])
            curriculum: Curriculum = CURRICULA[config.curriculum.name](families, seed=config.seed, **with_default_audit(
                config.curriculum.name, config.curriculum.params, config.env.id, config.env.kwargs))
            if config.curriculum.store is not None:  # the shared curriculum of a store (and of env servers)
                curriculum = self._stored_curriculum(families, envs[0])
            if "curriculum" in self.state:
                curriculum.load_state_dict(self.state["curriculum"])
            eval_tasks = self._eval_tasks(families)
            method_state = self.state["method"]
            policy = build_policy(config, method_state.get("checkpoint"))
            # training never draws a held-out task
            chooser = Excluding(curriculum, [task.id for task in eval_tasks])
            method = METHODS[config.method.name](Context(config, self.run_dir, envs, chooser, self.console),
                                                 policy, method_state)
            greedy = dataclasses.replace(policy.sampling, temperature=0.0, seed=config.eval.seed)
            done = self.state["episodes"]
            last = max((row["episodes"] for row in logs["evals.jsonl"]), default=-1)
            if last < 0 or self._evaluation_due(last, done):  # the first one, or one a kill cut short
                self._evaluate(envs, method.policy, eval_tasks, greedy)
            with phase_progress(self.console, TextColumn("success {task.fields[success]}")) as progress:
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
        return self._report()

    def _stored_curriculum(self, families: list[TaskFamily], env) -> Any:
        """The curriculum of ``curriculum.store``: a fold of the store run's outcomes (an env server's as well),
        made as a server makes it (the env's source as one family per task family), drawn and updated here."""
        from ..curricula.service import CurriculumService, StoredCurriculum, families_of
        from ..curricula.store import CurriculumStore

        config = self.config
        spec = config.curriculum
        store = CurriculumStore(spec.store)
        info = store.open_run(spec.run or config.name, model=config.agent.display_name, curriculum=spec.name,
                              params=spec.params, seed=config.seed, inherit=spec.inherit)
        known: list = []
        if not config.env.families:
            known = list(env.unwrapped.source)
            families = families_of(known)
        by_name = {family.name: family for family in families}

        def resolve(family: str, task_id: str, level: int):
            source = getattr(by_name.get(family), "source", None)  # a reasoning-gym family: its level's tasks
            if not callable(source):
                return None
            task = source(level).get(task_id)
            return Task(task.id, task.family, task.prompt, task.difficulty, {**task.data, "level": level})

        curriculum = CURRICULA[spec.name](families, seed=info.seed, **with_default_audit(
            spec.name, info.params, config.env.id, config.env.kwargs))
        return StoredCurriculum(CurriculumService(curriculum, store, info, known_tasks=known, resolve=resolve,
                                                  model=config.agent.display_name))

    def _eval_settings(self) -> dict[str, dict[str, Any]]:
        """How held-out tasks are judged: the first setting (``eval.env_kwargs``), then each of ``eval.also``."""
        return {self.config.eval.name: dict(self.config.eval.env_kwargs), **self.config.eval.also}

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
        if hasattr(curriculum, "written_summary"):  # a self-evolving curriculum: its written tasks' decisions, audits
            row["written"] = curriculum.written_summary()
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
        """Greedy held-out episodes under each setting (``_eval_envs``); a row of ``evals.jsonl`` with the first
        setting's success, interval and every task's outcome (``solved``: True, False, or None when lost to the
        infrastructure), and the same of each other setting under ``also``."""
        from ..agents.reflexion import Reflexion, ReflexionConfig

        row: dict[str, Any] = {"episodes": self.state["episodes"]}
        with phase_progress(self.console) as progress:
            for index, (name, setting_envs) in enumerate(self._eval_envs.items()):
                bar = progress.add_task(f"evaluating ({name})", total=len(tasks))
                result = self._held_out(setting_envs, policy, tasks, sampling,
                                        lambda done, bar=bar: progress.update(bar, advance=done))
                if index == 0:
                    row.update(result)
                else:
                    row.setdefault("also", {})[name] = result
            if self.config.eval.reflection:
                first = next(iter(self._eval_envs.values()))
                results = Reflexion(policy, config=ReflexionConfig(trials=2, actor_sampling=sampling)).run(first, tasks)
                solved = sum(r.success for r in results)
                row.update(success_reflection=solved / len(tasks), interval_reflection=wilson_interval(solved, len(tasks)))
        append_jsonl(self.run_dir / "evals.jsonl", [row])
        return row

    @staticmethod
    def _held_out(envs, policy, tasks: Sequence[Task], sampling, advance) -> dict[str, Any]:
        from ..agents.rollout import rollout_many

        # an episode lost to the infrastructure is played again; one still lost is left out, and counted
        trajectories = rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=sampling,
                                    after_chunk=lambda chunk: advance(len(chunk)))
        solved = [None if t.error is not None else t.success for t in trajectories]
        counted = [s for s in solved if s is not None]
        return {"tasks": len(counted), "success": float(np.mean(counted)) if counted else 0.0,
                "interval": wilson_interval(sum(counted), len(counted)), "solved": solved,
                "infra_errors": len(solved) - len(counted)}

    # --- results -------------------------------------------------------------------------------------------------
    def _report(self) -> dict[str, Any]:
        """Every evaluation, and (once there are two) the first against the last, paired task by task: a table
        and the plot ``plots/run.png``."""
        from ..eval.stats import mcnemar_test

        evals = read_jsonl(self.run_dir / "evals.jsonl")
        metrics = read_jsonl(self.run_dir / "metrics.jsonl")
        table = Table("episodes seen", f"{self.config.eval.name} success", "95% interval",
                      title=f"{self.config.name}: evaluations")
        for row in evals:
            low, high = row["interval"]
            table.add_row(str(row["episodes"]), f"{row['success']:.1%}", f"{low:.1%} - {high:.1%}")
        self.console.print(table)
        report: dict[str, Any] = {"episodes": self.state["episodes"], "evals": evals}
        if len(evals) >= 2 and "solved" in evals[0]:
            paired = Table("judged", "before", "after", "tasks gained / lost", "McNemar p",
                           title=f"{self.config.name}: before and after training, the same held-out tasks")
            report["paired"] = {}
            for name, before, after in _settings_of(evals[0], evals[-1], self.config.eval.name):
                both = [(b, a) for b, a in zip(before["solved"], after["solved"], strict=True)
                        if b is not None and a is not None]
                test = mcnemar_test([b for b, _ in both], [a for _, a in both])
                report["paired"][name] = {"before": before["success"], "after": after["success"], **test}
                paired.add_row(name, _with_interval(before), _with_interval(after),
                               f"{test['gains']} / {test['losses']}", f"{test['p_value']:.2g}")
            self.console.print(paired)
        report["plot"] = str(plot_run(self.run_dir, evals, metrics, self.config.eval.name))
        self.console.print(f"run folder: {self.run_dir}  plot: {report['plot']}")
        return report


def _series(evals: list[dict], primary: str) -> dict[str, list[tuple[int, dict]]]:
    """Each held-out setting's evaluations, as (episodes seen, row)."""
    series: dict[str, list[tuple[int, dict]]] = {primary: [(e["episodes"], e) for e in evals]} if evals else {}
    for row in evals:
        for name, other in row.get("also", {}).items():
            series.setdefault(name, []).append((row["episodes"], other))
    return series


def _settings_of(first: dict, last: dict, primary: str):
    """(name, first row, last row) of each held-out setting the two evaluations share (the first is ``primary``)."""
    yield primary, first, last
    for name, row in first.get("also", {}).items():
        if name in last.get("also", {}):
            yield name, row, last["also"][name]


def _with_interval(row: dict) -> str:
    low, high = row["interval"]
    return f"{row['success']:.1%} ({low:.0%}-{high:.0%})"


def plot_run(run_dir: Path, evals: list[dict], metrics: list[dict], primary: str = "held-out") -> Path:
    """``plots/run.png``: success over the run (training batches, each held-out setting), the difficulty the
    curriculum chose (when it changed), and each setting's success before and after training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counted = [m for m in metrics if m["batch_success"] is not None]  # a step all lost to the infrastructure
    difficulties = [m["mean_difficulty"] for m in counted]
    series = _series(evals, primary)
    panels = 1 + (len(set(difficulties)) > 1) + (len(evals) >= 2)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    left, *others = axes[0]
    if counted:
        x = [m["episodes"] for m in counted]
        success = np.array([m["batch_success"] for m in counted])
        window = max(1, len(success) // 10)
        smooth = np.convolve(success, np.ones(window) / window, mode="same")
        left.plot(x, smooth, color="tab:blue", alpha=0.6, label=f"training success ({window}-batch mean)")
    styles = iter([("black", "o-"), ("tab:green", "s--"), ("tab:red", "^--"), ("tab:purple", "d--")])
    for name, rows in series.items():
        color, fmt = next(styles, ("gray", "x--"))
        x = [episodes for episodes, _ in rows]
        y = [row["success"] for _, row in rows]
        err = np.array([[row["success"] - row["interval"][0], row["interval"][1] - row["success"]]
                        for _, row in rows]).T
        left.errorbar(x, y, yerr=err, fmt=fmt, color=color, capsize=4, label=f"{name} success (95% CI)")
    left.set(xlabel="training episodes", ylabel="success rate", ylim=(-0.02, 1.02), title="Success")
    left.legend(loc="best", fontsize=8)
    if len(set(difficulties)) > 1:
        middle = others.pop(0)
        middle.plot([m["episodes"] for m in counted], difficulties, color="tab:orange")
        middle.set(xlabel="training episodes", ylabel="mean difficulty level", title="Tasks the curriculum chose")
    if others:  # before and after, side by side per setting
        right, names = others[0], list(series)
        for offset, (label, index, color) in enumerate((("before", 0, "tab:gray"), ("after", -1, "tab:blue"))):
            rows = [series[name][index][1] for name in names]
            heights = [row["success"] for row in rows]
            err = np.array([[row["success"] - row["interval"][0], row["interval"][1] - row["success"]]
                            for row in rows]).T
            positions = np.arange(len(names)) + (offset - 0.5) * 0.38
            right.bar(positions, heights, 0.38, yerr=err, capsize=4, color=color, label=label)
            for position, height, above in zip(positions, heights, err[1], strict=True):
                right.text(position, height + above + 0.02, f"{height:.0%}", ha="center", fontsize=8)
        right.set_xticks(range(len(names)), names)
        right.set(ylabel="held-out success", ylim=(0, 1.02), title="Before and after training (95% CI)")
        right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = run_dir / "plots" / "run.png"
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
