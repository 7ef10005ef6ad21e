"""Curricula on the real model: GRPO with the embedded SmolLM2 under each curriculum, same budget, several seeds.

    .venv/bin/python examples/compare_curricula_grpo.py [--curricula uniform learning_progress ladder self_evolving]
                                                         [--seeds 0 1 2] [--episodes 240] [--eval-tasks 96]
                                                         [--out runs/curricula-grpo]

Each (curriculum, seed) is one `selfgym run` of ``experiments/grpo.yaml`` (reasoning-gym ``basic_arithmetic`` and
``letter_counting``, 3 levels each; groups of 8, 2 tasks a step, LoRA) with only the curriculum, the seed and the
budget changed. The runs of one seed are judged on the same held-out tasks (drawn from every family and level
with that seed, never trained on; another seed draws other tasks), greedily, before and after training. Runs are resumable: a run folder
that exists is continued, a finished one is read. Prints a table (held-out success with 95% Wilson intervals per
seed and pooled, paired exact McNemar against uniform on the same seed) and writes ``results.json`` and
``curricula_grpo.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def run_one(base: dict, curriculum: str, seed: int, episodes: int, eval_tasks: int, out: Path) -> Path:
    """Run (or resume, or just read) one experiment; its run folder."""
    from selfgym.experiments import ExperimentRunner, load_experiment

    name = f"{curriculum}-seed{seed}"
    config = {**base, "name": name, "seed": seed, "output_dir": str(out / "{name}"),
              "curriculum": {"name": curriculum}, "budget": {"episodes": episodes},
              "eval": {**base.get("eval", {}), "tasks": eval_tasks, "every": episodes}}
    path = out / f"{name}.yaml"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    run_dir = out / name
    evals = run_dir / "evals.jsonl"
    if evals.exists() and any(json.loads(line)["episodes"] >= episodes for line in evals.read_text().splitlines()):
        return run_dir
    ExperimentRunner(load_experiment(path)).run()
    return run_dir


def outcomes(run_dir: Path) -> tuple[list[bool], list[bool]]:
    """Each held-out task's outcome before and after training."""
    rows = [json.loads(line) for line in (run_dir / "evals.jsonl").read_text().splitlines()]
    return [bool(s) for s in rows[0]["solved"]], [bool(s) for s in rows[-1]["solved"]]


def spending(run_dir: Path) -> dict:
    """Where a run's training episodes went: the share of each family, the mean level, and their success."""
    episodes = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines() if line]
    families: dict[str, int] = {}
    for episode in episodes:
        families[episode["task"]["family"]] = families.get(episode["task"]["family"], 0) + 1
    return {"families": {name: count / len(episodes) for name, count in sorted(families.items())},
            "mean_level": sum(e["task"]["difficulty"] for e in episodes) / len(episodes),
            "train_success": sum(bool(e["success"]) for e in episodes) / len(episodes)}


def paired(test: dict, p_format: str) -> str:
    """An exact McNemar test as "+gained / -lost, p = ..."."""
    return f"+{test['gains']} / -{test['losses']}, p = {test['p_value']:{p_format}}"


def pooled_versus_uniform(results: dict, curriculum: str) -> str:
    """Exact McNemar of a curriculum against uniform over the seeds both ran (each seed's tasks paired)."""
    from selfgym.eval import mcnemar_test

    uniform = results.get("uniform", {})
    seeds = [seed for seed in results[curriculum] if seed in uniform]
    if curriculum == "uniform" or not seeds:
        return ""
    test = mcnemar_test([s for seed in seeds for s in uniform[seed]["after"]],
                        [s for seed in seeds for s in results[curriculum][seed]["after"]])
    return paired(test, ".2f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curricula", nargs="+", default=["uniform", "learning_progress", "ladder", "self_evolving"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=240, help="training episodes per run (equal for all)")
    parser.add_argument("--eval-tasks", type=int, default=96)
    parser.add_argument("--config", type=Path, default=REPO / "experiments" / "grpo.yaml")
    parser.add_argument("--out", type=Path, default=Path("runs/curricula-grpo"))
    args = parser.parse_args()

    from selfgym.eval import mcnemar_test, wilson_interval

    base = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    console = Console(width=190) if not sys.stdout.isatty() else Console()  # a log keeps whole rows
    results: dict[str, dict] = {}
    for seed in args.seeds:
        for curriculum in args.curricula:
            console.rule(f"{curriculum}, seed {seed}")
            run_dir = run_one(base, curriculum, seed, args.episodes, args.eval_tasks, args.out)
            before, after = outcomes(run_dir)
            results.setdefault(curriculum, {})[str(seed)] = {"before": before, "after": after,
                                                             **spending(run_dir)}

    table = Table("curriculum", "seed", "before", "after", "95% interval", "after vs before",
                  "vs uniform (same seed)",
                  "training: families", "mean level", "success",
                  title=f"GRPO, SmolLM2-135M, {args.episodes} episodes, {args.eval_tasks} held-out tasks")
    summary = {}
    for curriculum, by_seed in results.items():
        pooled_after = [s for run in by_seed.values() for s in run["after"]]
        pooled_before = [s for run in by_seed.values() for s in run["before"]]
        for seed, run in by_seed.items():
            solved, n = sum(run["after"]), len(run["after"])
            low, high = wilson_interval(solved, n)
            versus = ""
            uniform = results.get("uniform", {}).get(seed)
            if curriculum != "uniform" and uniform is not None:
                test = mcnemar_test(uniform["after"], run["after"])
                versus = paired(test, ".2f")
            gain = mcnemar_test(run["before"], run["after"])
            shares = ", ".join(f"{name.split('_')[0]} {share:.0%}" for name, share in run["families"].items())
            table.add_row(curriculum, seed, f"{sum(run['before']) / n:.1%}", f"{solved / n:.1%}",
                          f"{low:.1%}-{high:.1%}", paired(gain, ".2g"),
                          versus, shares, f"{run['mean_level']:.2f}",
                          f"{run['train_success']:.1%}")
        low, high = wilson_interval(sum(pooled_after), len(pooled_after))
        pooled_gain = mcnemar_test(pooled_before, pooled_after)
        summary[curriculum] = {"before": sum(pooled_before) / len(pooled_before), "gain": pooled_gain,
                               "after": sum(pooled_after) / len(pooled_after), "interval": [low, high],
                               "seeds": {seed: sum(run["after"]) / len(run["after"]) for seed, run in by_seed.items()}}
        table.add_row(f"[bold]{curriculum}[/]", "all", f"{summary[curriculum]['before']:.1%}",
                      f"[bold]{summary[curriculum]['after']:.1%}[/]", f"{low:.1%}-{high:.1%}",
                      paired(pooled_gain, ".2g"),
                      pooled_versus_uniform(results, curriculum), end_section=True)
    console.print(table)
    (args.out / "results.json").write_text(json.dumps({"summary": summary, "runs": results}, indent=1),
                                           encoding="utf-8")
    plot(summary, args.out / "curricula_grpo.png", args.episodes, args.eval_tasks)
    console.print(f"wrote {args.out / 'results.json'} and {args.out / 'curricula_grpo.png'}")


def plot(summary: dict, path: Path, episodes: int, tasks: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, name in enumerate(names):
        row = summary[name]
        ax.bar(i - 0.2, row["before"], 0.4, color="0.6", label="before" if i == 0 else None)
        ax.bar(i + 0.2, row["after"], 0.4, color="tab:blue", label="after" if i == 0 else None,
               yerr=[[row["after"] - row["interval"][0]], [row["interval"][1] - row["after"]]], capsize=4)
        for seed_value in row["seeds"].values():
            ax.plot(i + 0.2, seed_value, "k.", markersize=6)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names])
    ax.set_ylabel("held-out success")
    ax.set_title(f"GRPO under each curriculum: {episodes} episodes, {tasks} held-out tasks (dots: seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
