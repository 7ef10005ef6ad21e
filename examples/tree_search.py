"""Test-time search on the embedded SmolLM2-135M-Instruct: greedy vs best-of-n vs tree search, same env-step budget.

    nice -n 10 .venv/bin/python examples/tree_search.py            # 64 held-out tasks, 4 env steps each
    .venv/bin/python examples/tree_search.py --smoke               # 4 tasks: checks it all runs

Math-v0 on reasoning-gym ``basic_arithmetic`` level 0 (flexible extraction: a reply's last number is its answer),
the held-out problems of ``examples/grpo_smollm2.py``. Each task may cost at most ``--budget`` env steps:

* **greedy**: one greedy answer (1 step).
* **greedy + feedback**: one episode of ``--attempts`` answers; after a wrong one the env says "Incorrect." and the
  model answers again (greedy; at most ``--attempts`` steps: an episode cannot spend more).
* **best-of-n**: ``n = --budget`` sampled answers (T = 1), each its own one-answer episode. Committed: the one the
  model ranks first when shown all n (self-critique, no reward seen); pass@n: any of them right.
* **tree search** (:class:`selfgym.agents.TreeSearch`): MCTS over forks of the ``--attempts``-answer episode, ``k``
  proposals per expansion ranked by the model's self-critique (its priors), the env's verdict at each answer.
  Committed: the path to a "Correct." the search saw. Math-v0 shows the agent its verdict after every answer, so
  that choice is an honest agent's; the table gives beside it the path the critique alone would pick.
* **tree search + greedy proposal**: the same, with one of the ``k`` proposals of a node's first expansion the
  greedy reply (``TreeSearchConfig(greedy=True)``).

Every number comes from the env's verifier. Prints the table (95% Wilson intervals, exact McNemar against greedy
on the same tasks), writes ``results.json``, the trees (``trees.jsonl``: ``selfgym tree show``) and the plot into
``--out`` and ``docs/img/tree_search.png``. Methods already in ``results.json`` are not run again (resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the envs
from selfgym.agents import HFPolicy, Sampling, rollout_many
from selfgym.agents.search_tree import append_trees
from selfgym.agents.tree_search import TreeSearch, TreeSearchConfig
from selfgym.envs import TaskList
from selfgym.envs.math.generators import ReasoningGymSource
from selfgym.eval import mcnemar_test, wilson_interval

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."
REPO = Path(__file__).resolve().parents[1]


def make_envs(n: int, tasks: list, attempts: int) -> list[gym.Env]:
    return [gym.make("selfgym/Math-v0", tasks=TaskList(tasks, "held-out"), max_steps=attempts, attempts=attempts,
                     tools=False, extraction="flexible") for _ in range(n)]


def row(committed: list[bool], passed: list[bool], steps: list[int], seconds: float, errors: int) -> dict:
    low, high = wilson_interval(sum(committed), len(committed))
    pass_low, pass_high = wilson_interval(sum(passed), len(passed))
    return {"committed": [bool(c) for c in committed], "passed": [bool(p) for p in passed], "steps": steps,
            "success": float(np.mean(committed)), "low": low, "high": high, "pass": float(np.mean(passed)),
            "pass_low": pass_low, "pass_high": pass_high, "mean_steps": float(np.mean(steps)), "seconds": seconds,
            "errors": errors}


def greedy(policy, tasks, attempts: int, max_new_tokens: int) -> dict:
    started = time.perf_counter()
    trajectories = rollout_many(make_envs(len(tasks), tasks, attempts), policy, tasks, seeds=[0] * len(tasks),
                                sampling=Sampling(max_new_tokens=max_new_tokens), system_prompt=SYSTEM_PROMPT)
    solved = [t.success for t in trajectories]
    return row(solved, solved, [len(t.steps) for t in trajectories], time.perf_counter() - started,
               sum(t.error is not None for t in trajectories))


def search(policy, tasks, attempts: int, config: TreeSearchConfig, trees: Path | None) -> tuple[dict, dict]:
    """The search's row, and (for trees with a critique) the row of the path the critique alone picks."""
    started = time.perf_counter()
    searcher = TreeSearch(policy, config)
    results = searcher.run(make_envs(len(tasks), tasks, attempts), tasks, seed=0)
    seconds = time.perf_counter() - started
    if trees is not None:
        append_trees(trees, [r.tree for r in results])
    steps = [r.env_steps for r in results]
    errors = sum(r.error is not None for r in results)
    main = row([r.success for r in results], [r.any_success for r in results], steps, seconds, errors)
    blind = TreeSearch(policy, TreeSearchConfig(**{**vars(config), "commit": "prior"}))
    picked = [r.tree.nodes[blind.committed_node(r.tree)].success for r in results]
    return main, row(picked, [r.any_success for r in results], steps, seconds, errors)


def plot(results: dict, labels: dict, title: str, paths: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in labels if name in results]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    x = np.arange(len(names))
    for offset, key, color, label in ((-0.2, "success", "tab:blue", "committed answer"),
                                      (0.2, "pass", "tab:gray", "any branch right (pass@budget)")):
        low, high = ("low", "high") if key == "success" else ("pass_low", "pass_high")
        values = [results[n][key] for n in names]
        ax.bar(x + offset, values, 0.38, color=color, alpha=0.85, label=label)
        ax.errorbar(x + offset, values, yerr=[[v - results[n][low] for n, v in zip(names, values)],
                                              [results[n][high] - v for n, v in zip(names, values)]],
                    fmt="none", color="black", capsize=4)
    ax.set_xticks(x, [f"{labels[n].replace(', ', chr(10))}\n{results[n]['mean_steps']:.1f} steps/task" for n in names],
                  fontsize=8)
    ax.set(ylabel="held-out success (95% Wilson)", ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2", help="any Hugging Face name or path (a GPU makes it quick)")
    parser.add_argument("--tasks", type=int, default=64, help="held-out tasks")
    parser.add_argument("--budget", type=int, default=4, help="env steps per task")
    parser.add_argument("--attempts", type=int, default=2, help="answers per episode (greedy + feedback, tree)")
    parser.add_argument("--k", type=int, default=2, help="tree search: proposals per expansion")
    parser.add_argument("--c-puct", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=16, help="answers are short")
    parser.add_argument("--critique-tokens", type=int, default=8, help="length of the critique's ranking")
    parser.add_argument("--batch-size", type=int, default=32, help="conversations per generate call")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--smoke", action="store_true", help="4 tasks, 12-token replies")
    parser.add_argument("--methods", default="greedy,tree,tree_greedy,best_of_n,greedy_feedback",
                        help="which to run (comma-separated; those in results.json are kept, not run again)")
    parser.add_argument("--out", default="runs/tree-search")
    args = parser.parse_args()
    if args.smoke:
        args.tasks, args.max_new_tokens = 4, 12
        args.out = args.out + "-smoke" if args.out == parser.get_default("out") else args.out
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    console, out = Console(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the held-out problems of examples/grpo_smollm2.py: distinct level-0 problems, shuffled with seed 0
    pool = ReasoningGymSource("basic_arithmetic", 0, seed=0, size=2000)
    distinct = list({task.prompt: task for task in pool}.values())
    np.random.default_rng(0).shuffle(distinct)
    tasks = distinct[:args.tasks]
    policy = HFPolicy(args.model, batch_size=args.batch_size)

    results_file = out / "results.json"
    saved = json.loads(results_file.read_text()) if results_file.exists() else {}
    results = saved.get("results", {}) if saved.get("args", {}).get("budget") == args.budget else {}
    load: dict[str, list[float]] = saved.get("load", {}) if results else {}

    def record(name: str, value: dict, started_load: float) -> None:
        results[name] = value
        load[name] = [started_load, os.getloadavg()[0]]
        tmp = results_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"args": vars(args), "results": results, "load": load}, indent=1))
        tmp.replace(results_file)  # atomic: a kill leaves the last whole file
        console.print(f"{name}: {value['success']:.1%} committed, {value['pass']:.1%} any, "
                      f"{value['mean_steps']:.2f} steps/task, {value['seconds']:.0f} s, load {load[name]}")

    trees = out / "trees.jsonl"
    sample = dict(temperature=1.0, max_new_tokens=args.max_new_tokens, system_prompt=SYSTEM_PROMPT,
                  critique_max_new_tokens=args.critique_tokens)
    plan = {  # method -> the rows it makes
        ("greedy",): lambda: [greedy(policy, tasks, 1, args.max_new_tokens)],
        ("tree", "tree_critique_pick"): lambda: search(policy, tasks, args.attempts, TreeSearchConfig(
            k=args.k, env_steps=args.budget, max_depth=args.attempts, c_puct=args.c_puct, **sample), trees),
        ("tree_greedy", "tree_greedy_critique_pick"): lambda: search(policy, tasks, args.attempts, TreeSearchConfig(
            k=args.k, greedy=True, env_steps=args.budget, max_depth=args.attempts, c_puct=args.c_puct, **sample),
            trees),
        ("best_of_n_critique_pick",): lambda: search(policy, tasks, 1, TreeSearchConfig(
            k=args.budget, env_steps=args.budget, max_depth=1, commit="prior", stop_on_success=False, **sample),
            None)[:1],
        ("greedy_feedback",): lambda: [greedy(policy, tasks, args.attempts, args.max_new_tokens)],
    }
    chosen = set(args.methods.split(","))
    for names, run in plan.items():
        if all(name in results for name in names) or not chosen & {names[0], names[0].removesuffix("_critique_pick")}:
            continue
        started_load = os.getloadavg()[0]
        for name, value in zip(names, run(), strict=True):
            record(name, value, started_load)

    labels = {"greedy": "greedy, 1 answer", "greedy_feedback": f"greedy + feedback, {args.attempts} answers",
              "best_of_n_critique_pick": f"best-of-{args.budget}, critique's pick",
              "tree_critique_pick": "tree search, critique's pick (no verdict seen)",
              "tree": "tree search, committed on a seen \"Correct.\"",
              "tree_greedy_critique_pick": "tree search + greedy proposal, critique's pick",
              "tree_greedy": "tree search + greedy proposal, committed on a seen \"Correct.\""}
    if "greedy" not in results:
        return
    base = results["greedy"]["committed"]
    title = (f"SmolLM2-135M, Math-v0 basic_arithmetic L0 (flexible), {args.tasks} held-out tasks, "
             f"budget {args.budget} env steps/task")
    table = Table("method", "env steps/task (mean)", "committed success", "95% interval", "vs greedy +/-",
                  "McNemar p", "any branch right", "s", title=title)
    for name, label in labels.items():
        if name not in results:
            continue
        r = results[name]
        paired = mcnemar_test(base, r["committed"])
        table.add_row(label, f"{r['mean_steps']:.2f}", f"{r['success']:.1%} ({sum(r['committed'])}/{args.tasks})",
                      f"{r['low']:.1%} - {r['high']:.1%}", f"{paired['gains']} / {paired['losses']}",
                      f"{paired['p_value']:.2g}", f"{r['pass']:.1%} ({r['pass_low']:.0%}-{r['pass_high']:.0%})",
                      f"{r['seconds']:.0f}")
    console.print(table)
    console.print(f"load (1-min average) at the start / end of each method: {load}")
    paths = [out / "tree_search.png"] + ([] if args.smoke else [REPO / "docs" / "img" / "tree_search.png"])
    plot(results, labels, title, paths)
    console.print(f"trees: {trees}   plot: {', '.join(map(str, paths))}")


if __name__ == "__main__":
    main()
