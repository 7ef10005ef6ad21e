"""Learning from search trees on the embedded SmolLM2-135M-Instruct: base vs STaR on the trees' successful branches
(ReST-MCTS*) vs DPO on their sibling preference pairs (Agent Q), trained on the same trees, judged on held-out
Math-v0 tasks.

    .venv/bin/python examples/learn_from_trees.py [--train 32] [--k 4] [--max-steps 2] [--eval 64] [--threads 1]
    .venv/bin/python examples/learn_from_trees.py --smoke       # a minute or two: checks it all runs

CPU only and no download (``--model`` takes any Hugging Face name or path; a GPU is used when present). Tasks are
reasoning-gym ``basic_arithmetic`` at level 0 (``--family``), judged with ``extraction="flexible"`` (a reply
without ``\\boxed{}`` is judged by its last number); the held-out problems are set aside from the generator's
distinct problems, so none is searched or trained on. Steps:

1. the base model, greedy, on the held-out tasks;
2. one best-of-k tree per training task (:func:`selfgym.agents.tree_learning.expand_tree`: ``--k`` sampled replies
   at every node, each played from a restored fork of Math-v0, ``--max-steps`` replies per episode), saved to
   ``trees.jsonl``;
3. STaR on the successful root-to-leaf branches, from a fresh copy of the base model;
4. DPO on the sibling pairs whose values differ by at least ``--min-margin``, from a fresh copy of the base model
   (the reference); the mean log-probability margin of chosen over rejected on those pairs is printed before and
   after;
5. both evaluated greedy on the held-out tasks: 95% Wilson intervals, exact McNemar tests against the base paired
   task by task. A table, ``results.json`` and a plot (``--plot``, default ``docs/img/learn_from_trees.png``).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the envs
from selfgym.agents import HFPolicy, Sampling, rollout_many
from selfgym.agents.search_tree import append_trees
from selfgym.agents.tree_learning import (TreeLearner, TreeLearningConfig, best_branches, expand_tree,
                                          preference_margin, preference_pairs)
from selfgym.envs import TaskList
from selfgym.envs.math.generators import ReasoningGymSource
from selfgym.eval import mcnemar_test, wilson_interval

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."


def held_out(policy, envs, tasks, max_new_tokens: int) -> list[bool]:
    """Greedy, one episode per held-out task (up to the env's ``max_steps`` replies)."""
    greedy = Sampling(max_new_tokens=max_new_tokens, temperature=0.0)
    return [t.success for t in rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=greedy,
                                            system_prompt=SYSTEM_PROMPT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--family", default="basic_arithmetic", help="reasoning-gym generator, level 0")
    parser.add_argument("--extraction", choices=["strict", "flexible"], default="flexible")
    parser.add_argument("--train", type=int, default=32, help="training tasks (one tree each)")
    parser.add_argument("--eval", type=int, default=64, help="held-out tasks")
    parser.add_argument("--k", type=int, default=4, help="replies sampled per node")
    parser.add_argument("--max-steps", type=int, default=2, help="replies per episode (the trees' depth)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--min-margin", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--dpo-lr", type=float, default=1e-4)
    parser.add_argument("--dpo-epochs", type=int, default=2)
    parser.add_argument("--sft-lr", type=float, default=2e-4)
    parser.add_argument("--sft-epochs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--smoke", action="store_true", help="4 training tasks, 8 held-out, 16-token replies")
    parser.add_argument("--out", default="runs/learn-from-trees")
    parser.add_argument("--plot", default="docs/img/learn_from_trees.png")
    args = parser.parse_args()
    if args.smoke:
        args.train, args.eval, args.max_new_tokens, args.k = 4, 8, 16, 2
        args.out, args.plot = args.out + "-smoke", str(Path(args.out + "-smoke") / "learn_from_trees.png")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    console, out = Console(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started, seconds = time.perf_counter(), {}

    pool = ReasoningGymSource(args.family, 0, seed=0, size=2000)
    distinct = list({task.prompt: task for task in pool}.values())
    np.random.default_rng(0).shuffle(distinct)
    eval_tasks, train_tasks = distinct[:args.eval], distinct[args.eval:args.eval + args.train]
    envs = [gym.make("selfgym/Math-v0", tasks=TaskList(train_tasks, args.family), max_steps=args.max_steps,
                     tools=False, extraction=args.extraction) for _ in range(args.parallel)]
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=0.95)
    common = dict(k=args.k, sampling=sampling, min_margin=args.min_margin, beta=args.beta,
                  dpo_learning_rate=args.dpo_lr, dpo_epochs=args.dpo_epochs, learning_rate=args.sft_lr,
                  epochs=args.sft_epochs, system_prompt=SYSTEM_PROMPT, seed=0)

    def fresh() -> HFPolicy:
        return HFPolicy(args.model, batch_size=args.parallel)

    results: dict[str, list[bool]] = {}
    clock = time.perf_counter()
    with console.status(f"base model on {len(eval_tasks)} held-out tasks..."):
        base = fresh()
        results["base (greedy)"] = held_out(base, envs, eval_tasks, args.max_new_tokens)
    seconds["base eval"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with console.status(f"searching: a best-of-{args.k} tree for each of {len(train_tasks)} training tasks..."):
        trees = expand_tree(base, envs, train_tasks, k=args.k, seed=1, sampling=sampling, system_prompt=SYSTEM_PROMPT)
    seconds["search"] = time.perf_counter() - clock
    (out / "trees.jsonl").unlink(missing_ok=True)
    append_trees(out / "trees.jsonl", trees)
    pairs = [pair for tree in trees for pair in preference_pairs(tree, args.min_margin)]
    branches = [branch for tree in trees for branch in best_branches(tree)]
    depths = collections.Counter(node.depth for tree in trees for node in tree.nodes if not node.children)
    leaves = [leaf for tree in trees for leaf in tree.leaves()]
    stats = {"trees": len(trees), "nodes": sum(len(t.nodes) for t in trees), "leaves": len(leaves),
             "leaves_by_depth": dict(sorted(depths.items())), "successful_leaves": sum(l.success for l in leaves),
             "trees_with_a_success": sum(any(l.success for l in t.leaves()) for t in trees),
             "pairs": len(pairs), "pairs_below_the_root": sum(p.node != 0 for p in pairs),
             "best_branches": len(branches), "completion_tokens": sum(t.meta["completion_tokens"] for t in trees)}
    del base

    reports = {}
    for name, objective in (("STaR on best branches", "star"), ("DPO on sibling pairs", "dpo")):
        clock = time.perf_counter()
        with console.status(f"{name}: training a fresh copy of the base model, then evaluating..."):
            policy = fresh()
            if objective == "dpo":
                stats["margin_before"] = preference_margin(policy, pairs)
            report = TreeLearner(policy, TreeLearningConfig(objective=objective, **common)).learn(trees, seed=0)
            if objective == "dpo":
                stats["margin_after"] = preference_margin(policy, pairs)
            reports[name] = report.as_dict()
            results[name] = held_out(policy, envs, eval_tasks, args.max_new_tokens) if (
                report.pairs if objective == "dpo" else report.sft_examples) else results["base (greedy)"]
        seconds[name] = time.perf_counter() - clock
    for env in envs:
        env.close()

    title = (f"{args.model} on {args.family} level 0 ({args.extraction}): {len(eval_tasks)} held-out tasks; trees of "
             f"{len(train_tasks)} training tasks, k={args.k}, max_steps={args.max_steps}")
    table = Table("method", "held-out success", "95% interval", "vs base: gained / lost", "McNemar p", title=title)
    rows = []
    for name, solved in results.items():
        low, high = wilson_interval(sum(solved), len(solved))
        test = mcnemar_test(results["base (greedy)"], solved)
        rows.append({"method": name, "success": float(np.mean(solved)), "solved": int(sum(solved)),
                     "tasks": len(solved), "low": low, "high": high, **test, "by_task": solved})
        table.add_row(name, f"{np.mean(solved):.1%} ({sum(solved)}/{len(solved)})", f"{low:.1%} - {high:.1%}",
                      "" if name.startswith("base") else f"{test['gains']} / {test['losses']}",
                      "" if name.startswith("base") else f"{test['p_value']:.2g}")
    console.print(table)
    seconds["total"] = time.perf_counter() - started
    console.print(f"trees: {stats}")
    console.print(f"training: {reports}")
    console.print("seconds: " + ", ".join(f"{key} {value:.0f}" for key, value in seconds.items()))
    (out / "results.json").write_text(json.dumps({"rows": rows, "trees": stats, "training": reports,
                                                  "seconds": seconds, "args": vars(args)}, indent=2))
    plot(Path(args.plot), rows, stats, title)
    console.print(f"plot: {args.plot}; results: {out / 'results.json'}")


def plot(path: Path, rows: list[dict], stats: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(rows))
    heights = [r["success"] for r in rows]
    left.bar(x, heights, color=["tab:gray", "tab:green", "tab:blue"][:len(rows)], alpha=0.8)
    left.errorbar(x, heights, yerr=[[r["success"] - r["low"] for r in rows], [r["high"] - r["success"] for r in rows]],
                  fmt="none", color="black", capsize=5)
    for position, row in zip(x, rows):
        label = f"{row['success']:.0%}" + ("" if row["method"].startswith("base") else f"\np={row['p_value']:.2g}")
        left.text(position, row["high"] + 0.02, label, ha="center", fontsize=8)
    left.set_xticks(x, [r["method"] for r in rows])
    left.set(ylabel="held-out success (95% Wilson CI)", ylim=(0, 1), title="Held-out success, greedy")
    depths = stats["leaves_by_depth"]
    right.bar([str(d) for d in depths], list(depths.values()), color="tab:orange")
    right.set(xlabel="leaf depth (env steps)", ylabel="leaves",
              title=f"{stats['trees']} trees: {stats['nodes']} nodes, {stats['pairs']} pairs, "
                    f"{stats['best_branches']} best branches")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


if __name__ == "__main__":
    main()
