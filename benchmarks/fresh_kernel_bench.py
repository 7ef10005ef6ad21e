"""What a fresh kernel per episode costs: the sandbox executor of commit ``--before`` (resets wiped the scratch
directories, killed processes and removed IPC objects in one shared set of namespaces) against this checkout's
(every episode in new PID, network, IPC and mount namespaces, made ahead of time), in the same run.

    .venv/bin/python benchmarks/fresh_kernel_bench.py [--before f632f4c] [--rounds 3] [--runs 40] [--problems 164]

Rounds interleave the two executors (before, after, before, after, ...) so that a change in the machine's load
hits both alike; each figure is the median over rounds. Per executor: a warm pool's latency for a 50 ms Python
program (acquire, run, release: the release is the reset), a reset alone, and HumanEval episodes/s through
``gym.make("selfgym/Code-v0")`` (canonical solutions, one attempt each) with 1 and 2 workers; the bare host's
``python3`` is the anchor. Goals: warm pool <= 1.2x the host, Code-v0 >= 0.9x the wiping executor's episodes/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import selfgym.sandbox.sandbox as sandbox_module
from selfgym.sandbox import SandboxPool, build_image, docker_client
from selfgym.sandbox.measure import PROGRAM_50MS, Latency, host_python, time_host, time_pool

from sandbox_bench import code_episodes

ROOT = Path(__file__).resolve().parents[1]


def executor_at(revision: str) -> bytes:
    """The sandbox's PID 1 source at ``revision`` (``supervisor.py``, named ``executor.py`` before)."""
    for path in ("selfgym/sandbox/supervisor.py", "selfgym/sandbox/executor.py"):
        found = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True)
        if found.returncode == 0:
            return found.stdout
    raise FileNotFoundError(f"no sandbox PID 1 source at {revision}")


def time_resets(pool: SandboxPool, runs: int) -> list[float]:
    samples = []
    with pool.acquire() as sandbox:
        for _ in range(runs):
            sandbox.run(["python3", "-c", "pass"])
            start = time.perf_counter()
            sandbox.reset()
            samples.append(time.perf_counter() - start)
    return samples


def measure(image: str, client, runs: int, problems: int) -> dict:
    with SandboxPool(image, size=1, client=client) as pool:
        time_pool(pool, PROGRAM_50MS, 3)  # warm-up
        pool_latency = Latency.of("pool", time_pool(pool, PROGRAM_50MS, runs))
        reset_latency = Latency.of("reset", time_resets(pool, runs))
    episodes = {workers: code_episodes(image, client, workers, problems)["code_v0"] for workers in (1, 2)}
    return {"pool_p50_ms": pool_latency.p50_ms, "pool_p95_ms": pool_latency.p95_ms,
            "reset_p50_ms": reset_latency.p50_ms, "reset_p95_ms": reset_latency.p95_ms,
            "code_v0_1": episodes[1], "code_v0_2": episodes[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="f632f4c", help="the commit whose executor wiped instead")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=40, help="timed runs per latency figure")
    parser.add_argument("--problems", type=int, default=164, help="HumanEval problems per episodes/s figure")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    console = Console()
    client = docker_client()
    image = build_image(client, "python", console=console)
    sources = {"before (wipe)": executor_at(args.before), "after (fresh namespaces)": sandbox_module._EXECUTOR_SOURCE}
    results: dict[str, list[dict]] = {name: [] for name in sources}
    host: list[float] = []
    console.print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, image {image}")
    for round_ in range(args.rounds):
        host.append(Latency.of("host", time_host(PROGRAM_50MS, args.runs)).p50_ms)
        for name, source in sources.items():
            console.print(f"round {round_ + 1}/{args.rounds}: {name}")
            sandbox_module._EXECUTOR_SOURCE = source
            results[name].append(measure(image, client, args.runs, args.problems))
    host_ms = statistics.median(host)
    median = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in results.items()}
    table = Table("executor", "warm pool p50 ms", "p95", "p50 / host", "reset p50 ms", "p95",
                  "Code-v0 ep/s, 1 worker", "2 workers",
                  title=f"median of {args.rounds} interleaved rounds; host {host_python()} p50 {host_ms:.1f} ms; "
                        f"load {os.getloadavg()[0]:.1f} at the end")
    for name, row in median.items():
        table.add_row(name, f"{row['pool_p50_ms']:.1f}", f"{row['pool_p95_ms']:.1f}",
                      f"{row['pool_p50_ms'] / host_ms:.2f}x", f"{row['reset_p50_ms']:.2f}", f"{row['reset_p95_ms']:.2f}",
                      f"{row['code_v0_1']:.1f}", f"{row['code_v0_2']:.1f}")
    console.print(table)
    before, after = median.values()
    for workers in (1, 2):
        ratio = after[f"code_v0_{workers}"] / before[f"code_v0_{workers}"]
        console.print(f"goal Code-v0 >= 0.9x before, {workers} worker(s): {ratio:.2f}x {'met' if ratio >= 0.9 else 'MISSED'}")
    ratio = after["pool_p50_ms"] / host_ms
    console.print(f"goal warm pool <= 1.2x host: {ratio:.2f}x {'met' if ratio <= 1.2 else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"host_p50_ms": host_ms, "median": median, "rounds": results}, indent=2))


if __name__ == "__main__":
    main()
