"""An env step through ``selfgym env-server`` (OpenEnv's WebSocket protocol, the server in its own process) against
the same step in-process, in the same run.

    .venv/bin/python benchmarks/env_server_bench.py [--steps 200] [--envs Shell Math Code]

Steps: Shell-v0 ``echo hi`` (a command in the sandbox), Math-v0 a right answer (judged on the host), Code-v0 the
HumanEval/0 canonical solution (every hidden test run in the sandbox). In-process, the env is ``gym.make`` on a
pool of its own; remote, ``gym.make("selfgym/Remote-v0")`` against a server started for the run. Only ``step`` is
timed (episodes that end are reset untimed). ``state`` is a round trip that does no env work: the protocol's floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the ids
from selfgym.sandbox import SandboxPool, build_image, docker_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from env_servers import env_server  # noqa: E402

CASES = {  # env: (task id, env kwargs, the action)
    "Shell": ("shell/archives-001", {"max_steps": 100_000}, "echo hi"),
    "Math": ("basic_arithmetic/L0/s0/0", {}, None),  # the gold answer
    "Code": ("HumanEval/0", {"max_steps": 1}, None),  # the canonical solution
}


def timed_steps(env: gym.Env, task_id: str, action: str, steps: int) -> list[float]:
    seconds = []
    env.reset(options={"task_id": task_id})
    for _ in range(steps):
        started = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        seconds.append(time.perf_counter() - started)
        if terminated or truncated:
            env.reset(options={"task_id": task_id})
    return seconds


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--envs", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    client = docker_client()
    image = build_image(client, "python")
    table = Table("env / step", "in-process p50 ms", "p95", "through the server p50 ms", "p95", "added p50 ms")
    for name in args.envs:
        task_id, env_kwargs, action = CASES[name]
        env_id = f"selfgym/{name}-v0"
        with SandboxPool(image, size=1, client=client) as pool:
            local = gym.make(env_id, pool=pool, **env_kwargs)
            task = local.unwrapped.source.get(task_id)
            action = action or type(local.unwrapped).reference_actions(task)[-1]
            timed_steps(local, task_id, action, 5)  # warm-up: datasets, the verifier's worker, the fork server
            here = timed_steps(local, task_id, action, args.steps)
            local.close()
        server_args = ["--max-sessions", "1", "--warm", "1", "--env-kwargs", json.dumps(env_kwargs)]
        with env_server(env_id, *server_args) as server:
            remote = gym.make("selfgym/Remote-v0", url=server.url)
            timed_steps(remote, task_id, action, 5)
            there = timed_steps(remote, task_id, action, args.steps)
            floor = []
            for _ in range(args.steps):
                started = time.perf_counter()
                remote.unwrapped.state()
                floor.append(time.perf_counter() - started)
            remote.close()
        label = {"Shell": "Shell-v0 `echo hi`", "Math": "Math-v0 answer", "Code": "Code-v0 HumanEval/0 attempt"}[name]
        table.add_row(label, f"{percentile(here, 50):.2f}", f"{percentile(here, 95):.2f}",
                      f"{percentile(there, 50):.2f}", f"{percentile(there, 95):.2f}",
                      f"{percentile(there, 50) - percentile(here, 50):+.2f}")
        table.add_row(f"  (state round trip, {name} server)", "", "", f"{percentile(floor, 50):.2f}",
                      f"{percentile(floor, 95):.2f}", "")
    Console(width=150).print(table)
    print(f"{args.steps} timed steps each; load average {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    main()
