"""``selfgym env-server`` under load: many sessions at once from one asyncio client process, against the same env
in-process (the anchor), in the same run.

    .venv/bin/python benchmarks/env_server_load.py [--sessions 64 1024 4096 10000] [--duration 20]
                                                  [--code-sessions 64 256] [--pool-size 4] [--processes 1 2]

Math-v0 (tools off, one step an episode, the answer ``\\boxed{0}``, :data:`SEEDS` tasks): every session resets
and steps for ``--duration`` seconds once all are connected (episodes begun by then are waited for; episodes/s
counts over that whole time). Code-v0 (one attempt an episode) with many more sessions than
sandboxes. Each row runs once per ``--processes`` value (``selfgym env-server --processes N``). Reported:
episodes/s, episodes per session (min / median / max: fairness; "served" is the share of sessions that finished one
at least), reset and step round trips (p50 / p99, ms), the server's RSS and threads while it holds every session
(all its processes: server processes and the math verifier's workers), CPU per episode of the server (all its
processes) and of the client, errors by code. The in-process anchor plays the same episodes in one thread; its CPU
per episode counts this process and its verifier workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import psutil
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the ids

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from env_servers import env_server  # noqa: E402
from load_client import raise_open_files_limit, run_sessions  # noqa: E402

MATH_KWARGS = {"tools": False, "max_steps": 1}
MATH_ACTION = {"text": "\\boxed{0}"}
CODE_ACTION = {"text": "def f():\n    return 1\n"}
# the tasks played, in-process and through the server alike: seeds 0..SEEDS-1 (the verifier's workers cache each
# task's parsed answer, so a wider spread of tasks would measure sympy's parsing, not the server)
SEEDS = 256


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return (statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]) * 1000


def in_process(seconds: float) -> tuple[float, float]:
    """Math-v0 episodes/s in this process, one thread (the anchor), and its CPU ms per episode (this process and
    the verifier's workers)."""
    env = gym.make("selfgym/Math-v0", **MATH_KWARGS)
    for seed in range(SEEDS):  # warm-up: every task once
        env.reset(seed=seed)
        env.step(MATH_ACTION["text"])
    cpu_before = tree_cpu_seconds(os.getpid())
    episodes, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        env.reset(seed=episodes % SEEDS)
        env.step(MATH_ACTION["text"])
        episodes += 1
    elapsed = time.perf_counter() - started
    cpu = sum(tree_cpu_seconds(os.getpid()).values()) - sum(cpu_before.values())
    env.close()
    return episodes / elapsed, 1000 * cpu / episodes


def tree(pid: int) -> list[psutil.Process]:
    """Process ``pid`` and every process under it (server processes, verifier workers)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def process_status(pid: int) -> dict[str, float]:
    """RSS (MiB) and threads of ``pid``'s process tree."""
    rss = threads = 0.0
    for process in tree(pid):
        try:
            rss += process.memory_info().rss / 2**20
            threads += process.num_threads()
        except psutil.NoSuchProcess:
            continue
    return {"rss_mib": rss, "threads": threads}


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds so far of each process of ``pid``'s tree, by pid."""
    seconds = {}
    for process in tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process (the client) so far."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the tree used between two readings (a process that started in between counts from zero)."""
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def load(env_id: str, sessions: int, duration_s: float, server_args: list[str], action: dict) -> dict:
    raise_open_files_limit(2 * sessions + 1024)
    with env_server(env_id, "--max-sessions", str(max(sessions, 16)), *server_args) as server:
        held: dict = {}

        cpu: dict[str, float] = {}

        def measure() -> None:
            held.update(process_status(server.process.pid))
            cpu["server"] = cpu_used(cpu["server_start"], tree_cpu_seconds(server.process.pid))
            cpu["client"] = own_cpu_seconds() - cpu["client_start"]

        def play_begins() -> None:
            cpu["server_start"] = tree_cpu_seconds(server.process.pid)
            cpu["client_start"] = own_cpu_seconds()

        # warm-up, untimed: the server's verifier workers start and see every task once, its fork servers start
        asyncio.run(run_sessions(server.url, 16, action=lambda observation: action, episodes=SEEDS // 16,
                                 seed=lambda index, episode: (index * (SEEDS // 16) + episode) % SEEDS))
        started = time.perf_counter()
        records = asyncio.run(run_sessions(server.url, sessions, action=lambda observation: action, episodes=None,
                                           duration_s=duration_s, while_held=measure, connect_at_once=512,
                                           when_connected=play_begins,
                                           seed=lambda index, episode: (index + episode) % SEEDS))
        wall = time.perf_counter() - started
    episodes = [r.episodes for r in records]
    errors: dict[str, int] = {}
    for record in records:
        for code, count in record.errors.items():
            errors[code] = errors.get(code, 0) + count
    # episodes over the time they took: from the start of play to the last episode's end (an episode begun
    # before the time was up is waited for)
    began = min(r.began_play for r in records)
    ended = max((r.ended_at[-1] for r in records if r.ended_at), default=began + duration_s)
    return {"sessions": sessions, "episodes_per_s": sum(episodes) / max(ended - began, 1e-9),
            "play_s": ended - began, "min": min(episodes),
            "median": statistics.median(episodes), "max": max(episodes),
            "served": sum(e > 0 for e in episodes) / sessions,
            "reset_p50": percentile([s for r in records for s in r.resets], 50),
            "reset_p99": percentile([s for r in records for s in r.resets], 99),
            "step_p50": percentile([s for r in records for s in r.steps], 50),
            "step_p99": percentile([s for r in records for s in r.steps], 99),
            "max_reset_wait_s": max((max(r.resets) for r in records if r.resets), default=float("nan")),
            "server_cpu_ms_per_episode": 1000 * cpu["server"] / max(sum(episodes), 1),
            "client_cpu_ms_per_episode": 1000 * cpu["client"] / max(sum(episodes), 1),
            "errors": errors, "wall_s": wall, **held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[64, 1024, 4096, 10_000])
    parser.add_argument("--code-sessions", type=int, nargs="*", default=[64, 256])
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2], help="server processes (one row each)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of play once all are connected")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    anchors = []
    for sessions in args.sessions:
        for processes in args.processes:
            # the anchor just before each row: the machine's load drifts
            anchor, anchor_cpu = in_process(min(args.duration, 10.0))
            anchors.append(anchor)
            row = load("selfgym/Math-v0", sessions, args.duration,
                       ["--processes", str(processes), "--env-kwargs", json.dumps(MATH_KWARGS)], MATH_ACTION)
            rows.append({"env": "Math-v0", "processes": processes, **row, "in_process": anchor,
                         "in_process_cpu_ms_per_episode": anchor_cpu, "vs_in_process": row["episodes_per_s"] / anchor,
                         "load": float(open("/proc/loadavg").read().split()[0])})
            print(json.dumps(rows[-1]), flush=True)
    for sessions in args.code_sessions:
        for processes in args.processes:
            row = load("selfgym/Code-v0", sessions, args.duration,
                       ["--processes", str(processes), "--pool-size", str(args.pool_size), "--warm",
                        str(args.pool_size), "--sandbox-wait", "600", "--env-kwargs", json.dumps({"max_steps": 1})],
                       CODE_ACTION)
            rows.append({"env": f"Code-v0 on {args.pool_size} sandboxes", "processes": processes, **row,
                         "vs_in_process": None, "load": float(open("/proc/loadavg").read().split()[0])})
            print(json.dumps(rows[-1]), flush=True)
    table = Table("env", "processes", "sessions", "episodes/s", "x in-process (its episodes/s)", "load",
                  "per session min/med/max", "served", "reset p50/p99 ms", "step p50/p99 ms",
                  "server CPU ms/episode (in-process)", "client CPU ms/episode", "server RSS MiB", "threads", "errors")
    for row in rows:
        anchor_cpu = row.get("in_process_cpu_ms_per_episode")
        table.add_row(row["env"], str(row["processes"]), f"{row['sessions']:,}", f"{row['episodes_per_s']:.0f}",
                      f"{row['vs_in_process']:.2f} ({row['in_process']:.0f})" if row["vs_in_process"] is not None
                      else "–",
                      f"{row['load']:.1f}",
                      f"{row['min']}/{row['median']:g}/{row['max']}", f"{row['served']:.0%}",
                      f"{row['reset_p50']:.0f}/{row['reset_p99']:.0f}", f"{row['step_p50']:.0f}/{row['step_p99']:.0f}",
                      f"{row['server_cpu_ms_per_episode']:.2f}" + (f" ({anchor_cpu:.2f})" if anchor_cpu else ""),
                      f"{row['client_cpu_ms_per_episode']:.2f}", f"{row.get('rss_mib', 0):.0f}",
                      f"{row.get('threads', 0):.0f}",
                      ", ".join(f"{k} {v}" for k, v in row["errors"].items()) or "0")
    Console(width=200).print(table)
    print(f"in-process Math-v0 (one thread, measured before each row): "
          f"{', '.join(f'{a:.0f}' for a in anchors)} episodes/s; {args.duration:g} s of play per row; load: the "
          "1-minute load average after each row")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
