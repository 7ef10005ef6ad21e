"""Web-v0 latency and throughput: reset and step p50/p95, episodes/s with 1 and 2 environments.

    .venv/bin/python benchmarks/web_bench.py [--episodes 68] [--envs 1 2] [--tasks sites|miniwob|all] [--json out.json]

Episodes play the tasks' scripted reference solutions (every action kind occurs), so a step is what an agent's
step costs: the action in Chromium plus the next observation. Step latency is reported per action kind and over
all browser actions (``answer``, which runs the check instead, apart). Throughput runs one thread per environment,
each with its own web sandbox. The goal of issue 4 is a step p50 of at most 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from collections import defaultdict

from rich.console import Console
from rich.table import Table

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=68, help="timed reference episodes for the latencies")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 2], help="environment counts for throughput")
    parser.add_argument("--throughput-episodes", type=int, default=30, help="episodes per environment")
    parser.add_argument("--tasks", default="sites", choices=["sites", "miniwob", "all"])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    console = Console()
    image = web_image()
    load = os.getloadavg()[0]
    console.print(f"{os.cpu_count()} cores (load average {load:.1f}), {platform.platform()}, image {image}")

    timings: dict[str, list[float]] = defaultdict(list)
    with console.status("latency..."):
        env = WebEnv(tasks=args.tasks)
        try:
            tasks = list(env.source)
            play(env, tasks[0])  # warm-up: the sandbox, Chromium and the Playwright driver start here
            rewards = [play(env, tasks[i % len(tasks)], timings) for i in range(args.episodes)]
        finally:
            env.close()
    browser_steps = [t for kind, values in timings.items() if kind not in ("reset", "answer") for t in values]
    rows = [("reset", timings["reset"]), ("step (browser actions)", browser_steps)]
    rows += [(f"  {kind}", values) for kind, values in sorted(timings.items()) if kind != "reset"]
    table = Table("operation", "n", "p50 ms", "p95 ms", title=f"Latency ({args.tasks} tasks, reference episodes)")
    figures: dict = {"cores": os.cpu_count(), "load_average": load, "image": image, "tasks": args.tasks,
                     "mean_reward": statistics.fmean(rewards), "latency_ms": {}}
    for name, values in rows:
        p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
        figures["latency_ms"][name.strip()] = {"n": len(values), "p50": p50, "p95": p95}
        table.add_row(name, str(len(values)), f"{p50:.0f}", f"{p95:.0f}")
    console.print(table)
    console.print(f"mean reward of the reference episodes: {figures['mean_reward']:.2f}")

    figures["throughput"] = []
    table = Table("environments", "episodes/s", "mean reward", title="Throughput (reference episodes)")
    with console.status("throughput...") as status:
        for envs in args.envs:
            status.update(f"throughput with {envs} environment(s)...")
            rate, reward = throughput(tasks, envs, args.throughput_episodes)
            figures["throughput"].append({"envs": envs, "episodes_per_s": rate, "mean_reward": reward})
            table.add_row(str(envs), f"{rate:.2f}", f"{reward:.2f}")
    console.print(table)
    step_p50 = figures["latency_ms"]["step (browser actions)"]["p50"]
    verdict = "[green]met[/]" if step_p50 <= 150 else "[red]missed[/]"
    console.print(f"goal step p50 <= 150 ms: {verdict} ({step_p50:.0f} ms)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
