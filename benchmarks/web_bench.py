"""Web-v0 latency and throughput: reset and step p50/p95 of today's code and of a baseline, episodes/s with 1 and
2 environments.

    .venv/bin/python benchmarks/web_bench.py [--episodes 68] [--rounds 2] [--envs 1 2] [--tasks sites|miniwob|all]
                                             [--baseline REV | --baseline-path DIR | --no-baseline] [--json out.json]

Episodes play the tasks' scripted reference solutions (every action kind occurs), so a step is what an agent's
step costs: the action in Chromium plus the next observation. Step latency is reported per action kind and over
all browser actions (``answer``, which runs the check instead, apart). The latencies of the baseline (git revision
``--baseline``, extracted with ``git archive``: before the origin guard moved into Chromium) are measured in the
same run, in turns with today's code (each in a fresh process, ``--rounds`` times), so both see the same load.
Throughput runs one thread per environment, each with its own web sandbox. The goal of issue 17 is a click step
p50 of at most 130 ms on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from baseline import BASELINE_REVISION, REPO, baseline_code
from selfgym.envs.web.reference import ReferencePolicy
from selfgym.envs.web_env import WebEnv, web_image



def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def play(env: WebEnv, task, timings: dict[str, list[float]] | None = None) -> float:
    """One reference episode of ``task``; records reset and per-action-kind step times in ``timings``."""
    started = time.perf_counter()
    observation, _ = env.reset(options={"task": task})
    if timings is not None:
        timings["reset"].append(time.perf_counter() - started)
    policy, reward, done = ReferencePolicy(task), 0.0, False
    while not done:
        action = policy(observation)
        started = time.perf_counter()
        observation, reward, terminated, truncated, _ = env.step(action)
        if timings is not None:
            timings[action.split("(", 1)[0]].append(time.perf_counter() - started)
        done = terminated or truncated
    return reward


def throughput(tasks: list, envs: int, episodes_per_env: int) -> tuple[float, float]:
    """Episodes per second and mean reward with ``envs`` environments, one thread each (warm-up excluded)."""
    environments = [WebEnv() for _ in range(envs)]
    rewards: list[float] = []
    try:
        for env in environments:  # start each sandbox and browser before timing
            play(env, tasks[0])
        def work(env: WebEnv, offset: int) -> None:
            for episode in range(episodes_per_env):
                rewards.append(play(env, tasks[(offset + episode) % len(tasks)]))
        threads = [threading.Thread(target=work, args=(env, i * 7)) for i, env in enumerate(environments)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        for env in environments:
            env.close()
    return len(rewards) / elapsed, statistics.fmean(rewards)


def latencies(tasks_name: str, episodes: int) -> dict[str, list[float]]:
    """Reset and per-action-kind step times (s) of ``episodes`` reference episodes, after one warm-up episode."""
    timings: dict[str, list[float]] = defaultdict(list)
    env = WebEnv(tasks=tasks_name)
    try:
        tasks = list(env.source)
        play(env, tasks[0])  # warm-up: the sandbox, Chromium and the Playwright driver start here
        timings["reward"] = [play(env, tasks[i % len(tasks)], timings) for i in range(episodes)]
    finally:
        env.close()
    return timings


def latencies_of(code: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    """:func:`latencies` in a fresh process running the code in ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as empty:  # not a checkout: nothing there may shadow the code under test
        done = subprocess.run([sys.executable, __file__, "--child", "--tasks", args.tasks, "--episodes",
                               str(args.episodes)], capture_output=True, text=True, env=env, timeout=3600, cwd=empty)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({code}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(timings: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) of resets, of all browser actions together, and of each action kind."""
    browser_steps = [t for kind, values in timings.items() if kind not in ("reset", "answer", "reward") for t in values]
    rows = {"reset": timings["reset"], "step (browser actions)": browser_steps}
    rows.update({kind: values for kind, values in sorted(timings.items()) if kind not in ("reset", "reward")})
    return {name: {"n": len(values), "p50": percentile(values, 0.5) * 1000, "p95": percentile(values, 0.95) * 1000}
            for name, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=68, help="timed reference episodes per round")
    parser.add_argument("--rounds", type=int, default=2, help="turns of baseline and today's code")
    parser.add_argument("--envs", type=int, nargs="*", default=[1, 2], help="environment counts for throughput (none: skip)")
    parser.add_argument("--throughput-episodes", type=int, default=30, help="episodes per environment")
    parser.add_argument("--tasks", default="sites", choices=["sites", "miniwob", "all"])
    parser.add_argument("--baseline", default=BASELINE_REVISION, help="git revision to compare with")
    parser.add_argument("--baseline-path", help="a checkout to compare with instead of --baseline")
    parser.add_argument("--no-baseline", action="store_true", help="measure today's code only")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(latencies(args.tasks, args.episodes)))
        return

    console = Console()
    image = web_image()
    console.print(f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), {platform.platform()}, "
                  f"image {image}")
    names = ["today"] if args.no_baseline else ["baseline", "today"]
    pooled: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in names}
    loads: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as scratch, console.status("latency...") as status:
        code = {"today": REPO}
        if not args.no_baseline:
            code["baseline"] = baseline_code(args.baseline, args.baseline_path, Path(scratch))
        for round_ in range(args.rounds):
            for name in names:
                status.update(f"latency, round {round_ + 1}/{args.rounds}: {name}...")
                loads[name].append(os.getloadavg()[0])
                for kind, values in latencies_of(code[name], args).items():
                    pooled[name][kind].extend(values)
    figures: dict = {"cores": os.cpu_count(), "image": image, "tasks": args.tasks,
                     "baseline": None if args.no_baseline else (args.baseline_path or args.baseline)}
    for name in names:
        figures[name] = {"load_averages": loads[name], "mean_reward": statistics.fmean(pooled[name]["reward"]),
                         "latency_ms": summary(pooled[name])}
    table = Table("operation", *(f"{name} p50 ms" for name in names), *(f"{name} p95 ms" for name in names), "n",
                  title=f"Latency ({args.tasks} tasks, {args.rounds} x {args.episodes} reference episodes each)")
    for row in figures["today"]["latency_ms"]:
        cells = [figures[name]["latency_ms"].get(row, {}) for name in names]
        table.add_row(row, *(f"{cell.get('p50', float('nan')):.0f}" for cell in cells),
                      *(f"{cell.get('p95', float('nan')):.0f}" for cell in cells), str(cells[-1].get("n", 0)))
    console.print(table)
    for name in names:
        console.print(f"{name}: mean reward {figures[name]['mean_reward']:.2f}, load average at each round "
                      + ", ".join(f"{load:.1f}" for load in loads[name]))

    figures["throughput"] = []
    if args.envs:
        env = WebEnv(tasks=args.tasks)
        tasks = list(env.source)
        env.close()
        table = Table("environments", "episodes/s", "mean reward", "load", title="Throughput (reference episodes)")
        with console.status("throughput...") as status:
            for envs in args.envs:
                status.update(f"throughput with {envs} environment(s)...")
                load = os.getloadavg()[0]
                rate, reward = throughput(tasks, envs, args.throughput_episodes)
                figures["throughput"].append({"envs": envs, "episodes_per_s": rate, "mean_reward": reward, "load": load})
                table.add_row(str(envs), f"{rate:.2f}", f"{reward:.2f}", f"{load:.1f}")
        console.print(table)
    click = figures["today"]["latency_ms"]["click"]["p50"]
    verdict = "[green]met[/]" if click <= 130 else "[red]missed[/]"
    line = f"goal click step p50 <= 130 ms (quiet machine): {verdict} ({click:.0f} ms"
    if not args.no_baseline:
        line += f"; baseline {figures['baseline']['latency_ms']['click']['p50']:.0f} ms"
    console.print(line + ")")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
