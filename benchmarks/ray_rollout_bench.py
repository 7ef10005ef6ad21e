"""Rollout throughput on env workers: episodes/s of lockstep rollouts (``rollout_batch``) whose envs live in 1
or 2 Ray env workers, against the same envs in this process stepped by threads, in the same run.

    .venv/bin/python benchmarks/ray_rollout_bench.py [--envs-per-worker 1] [--rounds 30] [--repeats 3]

The work is Code-v0 on HumanEval played by the scripted oracle: each episode is a reset (a clean sandbox from
the pool) and one attempt whose hidden tests run in the sandbox, so the env side is all there is (the oracle's
replies cost nothing). Each env worker holds ``--envs-per-worker`` envs, as a node holds its share: 1 worker
plays k envs in lockstep, 2 workers 2k. Local threads play k envs (the same batch as 1 worker) and 2k (the
same as 2 workers). Rates are steady state: workers, sandboxes and imports are warmed by a first round that is
not timed. Each mode runs ``--repeats`` times, interleaved with the others so that a change in the machine's
load hits them alike; the table shows medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from selfgym.agents import OraclePolicy, rollout_batch
from selfgym.runtime import LocalExecutor, RayExecutor
from selfgym.sandbox import build_image, docker_client

ENV = "selfgym/Code-v0"


def measure(mode: str, envs_per_worker: int, rounds: int) -> dict:
    kind, workers = mode.split(":")
    n = int(workers) * envs_per_worker
    executor = LocalExecutor() if kind == "local" else RayExecutor(int(workers))
    policy = OraclePolicy()
    with executor:
        envs = executor.make_envs(ENV, n, {"max_steps": 1})
        source = envs[0].unwrapped.source
        tasks = [source.get(f"HumanEval/{i}") for i in range(164)]
        batches = [[tasks[(r * n + i) % len(tasks)] for i in range(n)] for r in range(rounds + 1)]
        rollout_batch(envs, policy, batches[0], seeds=list(range(n)))  # warm-up: workers, sandboxes, imports
        started = time.perf_counter()
        solved = 0
        for batch in batches[1:]:
            solved += sum(t.success for t in rollout_batch(envs, policy, batch, seeds=list(range(n))))
        seconds = time.perf_counter() - started
    return {"mode": mode, "envs": n, "episodes": rounds * n, "solved": solved, "eps": rounds * n / seconds,
            "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs-per-worker", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30, help="timed lockstep batches per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["local:1", "ray:1", "local:2", "ray:2"])
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement here")
    args = parser.parse_args()
    build_image(docker_client(), "python")
    console = Console()
    import ray

    ray.init(num_cpus=max(2, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False)
    runs: list[dict] = []
    try:
        for _ in range(args.repeats):
            for mode in args.modes:
                runs.append(measure(mode, args.envs_per_worker, args.rounds))
                console.print(f"{mode} ({runs[-1]['envs']} envs): {runs[-1]['eps']:.2f} episodes/s "
                              f"(load {runs[-1]['load']:.1f})")
    finally:
        ray.shutdown()
    medians = {mode: {key: statistics.median(r[key] for r in runs if r["mode"] == mode)
                      for key in ("eps", "load")} for mode in args.modes}
    table = Table("mode", "envs", "episodes/s", "vs 1 worker of its kind", "vs local threads, same envs",
                  "load",
                  title=f"{ENV} (HumanEval, scripted oracle), {args.envs_per_worker} env(s) per worker, "
                        f"{os.cpu_count()} CPUs, median of {args.repeats}")
    for mode, median in medians.items():
        kind, workers = mode.split(":")
        one = medians.get(f"{kind}:1")
        local = medians.get(f"local:{workers}")
        envs = int(workers) * args.envs_per_worker
        table.add_row(mode, str(envs), f"{median['eps']:.1f}",
                      f"{median['eps'] / one['eps']:.2f}x" if one else "-",
                      f"{median['eps'] / local['eps']:.2f}x" if local else "-", f"{median['load']:.1f}")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "medians": medians, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
