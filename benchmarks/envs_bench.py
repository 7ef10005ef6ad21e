"""Environment speed: steps/s and episodes/s of each env with 1 and 4 parallel envs sharing one sandbox pool,
and Math-v0 answer verification throughput on one core.

    .venv/bin/python benchmarks/envs_bench.py [--seconds 10] [--parallel 1 4] [--envs Code Shell Math]

Each env plays its tasks' reference solutions (HumanEval canonical solutions, the shell tasks' scripted
solutions, the math gold answers), so every episode runs the full verifier. Parallel envs run in threads, one
env each, sharing one SandboxPool (the way vector envs and eval workers use selfgym).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import gymnasium as gym
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the ids
from selfgym.sandbox import SandboxPool, build_image, docker_client


def play(env_name: str, pool: SandboxPool, seconds: float, seed: int, totals: dict, lock: threading.Lock,
         barrier: threading.Barrier) -> None:
    env = gym.make(f"selfgym/{env_name}-v0", pool=pool).unwrapped
    env.reset(seed=seed)  # warm-up outside the timing: task-source datasets, the verifier's worker process
    for action in env.reference_actions(env.task):
        if any(env.step(action)[2:4]):
            break
    steps = episodes = solved = 0
    barrier.wait()  # every env warmed up: the timed window starts together
    start = time.perf_counter()
    deadline = start + seconds
    try:
        while time.perf_counter() < deadline:
            _, info = env.reset(seed=seed + episodes)
            for action in env.reference_actions(env.task):
                _, reward, terminated, truncated, info = env.step(action)
                steps += 1
                if terminated or truncated:
                    break
            episodes += 1
            solved += reward == 1.0
    finally:
        env.close()
    with lock:
        totals["elapsed"] = max(totals["elapsed"], time.perf_counter() - start)
        totals["steps"] += steps
        totals["episodes"] += episodes
        totals["solved"] += solved


def measure(env_name: str, parallel: int, seconds: float, image: str) -> dict:
    totals, lock, barrier = {"steps": 0, "episodes": 0, "solved": 0, "elapsed": 0.0}, threading.Lock(), \
        threading.Barrier(parallel)
    with SandboxPool(image, size=parallel) as pool:
        threads = [threading.Thread(target=play, args=(env_name, pool, seconds, 1000 * i, totals, lock, barrier))
                   for i in range(parallel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = totals["elapsed"]
    return {"env": env_name, "parallel": parallel, "steps_per_s": totals["steps"] / elapsed,
            "episodes_per_s": totals["episodes"] / elapsed, "episodes": totals["episodes"],
            "solved": totals["solved"]}


def verification_throughput(seconds: float) -> tuple[float, float]:
    """Answers verified per second on one core, on (gold, answer) pairs from the default Math-v0 source (four
    variants of each gold answer, one of them wrong): (never seen before, i.e. the cache cleared before every
    pass; repeated pairs, served from the cache as in RL where a group repeats answers)."""
    from selfgym.envs.math.answers import clear_verification_cache, verify_answer

    env = gym.make("selfgym/Math-v0").unwrapped
    golds = [env.source.sample(env.np_random).data["answer"] for _ in range(200)]
    env.close()
    variants = [lambda g: g, lambda g: f"\\boxed{{{g}}}", lambda g: f"{g} ", lambda g: "0"]
    pairs = [(gold, variant(gold)) for gold in golds if gold is not None for variant in variants]
    rates = []
    for clear in (True, False):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            if clear:
                clear_verification_cache()
            for gold, answer in pairs:
                verify_answer(gold, answer)
            done += len(pairs)
        rates.append(done / (time.perf_counter() - start))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per configuration")
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--envs", nargs="+", default=["Code", "Shell", "Math"])
    args = parser.parse_args()
    console = Console()
    image = build_image(docker_client(), "python", console=console)
    console.print(f"{os.cpu_count()} cores; {args.seconds:g} s per configuration")
    table = Table("env", "parallel envs", "steps/s", "episodes/s", "episodes", "reward 1",
                  title="Reference solutions through gym.make envs")
    for env_name in args.envs:
        for parallel in args.parallel:
            with console.status(f"{env_name}-v0 x{parallel}..."):
                row = measure(env_name, parallel, args.seconds, image)
            table.add_row(f"selfgym/{env_name}-v0", str(parallel), f"{row['steps_per_s']:.1f}",
                          f"{row['episodes_per_s']:.1f}", str(row["episodes"]), f"{row['solved'] / row['episodes']:.0%}")
    console.print(table)
    if "Math" in args.envs:
        with console.status("verification throughput..."):
            first_sight, cached = verification_throughput(args.seconds)
        console.print(f"Math-v0 verification on one core (goal >= 2,000/s): {first_sight:,.0f} answers/s never seen "
                      f"before, {cached:,.0f} answers/s repeated (cached)")


if __name__ == "__main__":
    main()
