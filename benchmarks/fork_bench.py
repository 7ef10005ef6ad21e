"""Fork cost versus replaying the prefix, per env: what branching an episode costs (issue 27).

    .venv/bin/python benchmarks/fork_bench.py [--repeats 5] [--envs code math shell web] [--json out.json]

For each env an episode plays a prefix of N actions; then, on the same shared pool, it is measured (median of
``--repeats``, milliseconds):

* ``clone``: ``env.clone_state()`` (the sandbox's files, or the web state, read out);
* ``restore``: ``other.restore_state(state)`` into another env of the pool that is already running (the way a tree
  search keeps a few envs and moves them between nodes);
* ``fork``: ``env.fork()``, a new env in the same state (its sandbox taken from the pool; for Web-v0 that starts
  the sites and Chromium in it, as any new WebEnv does);
* Remote-v0 plays Shell-v0 on a ``selfgym env-server`` process (``snapshot`` / ``restore`` messages; its fork opens
  a new session, whose env the server makes, and restores the snapshot into it);
* ``replay``: the alternative, reaching the same state from scratch in a running env: ``reset`` and the N actions.

The machine's load (``os.getloadavg``) is printed beside the numbers: they are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from selfgym.envs.code_env import CodeEnv
from selfgym.envs.math_env import MathEnv
from selfgym.envs.shell import tasks_from_entries
from selfgym.envs.shell_env import ShellEnv
from selfgym.envs.task import Task
from selfgym.sandbox import SandboxPool, build_image, docker_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from env_servers import env_server  # noqa: E402

WRONG = "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"
MATH_TASK = Task("bench", "custom", "What is 6 * 7?", data={"answer": "42"})
SHELL_TASK = tasks_from_entries([{
    "id": "bench", "prompt": "Make files.", "category": "files", "difficulty": 1, "setup": "mkdir -p src",
    "check": "test -f /work/done", "solution": ["touch done", "submit"]}], "bench")[0]


def shell_steps(n: int) -> list[str]:
    """``n`` Shell-v0 actions that leave files, a working directory and variables behind (and a 1 MB file)."""
    steps = [f"cd src && echo 'line {i}' >> notes && export V{i}={i} && cd .." for i in range(n - 1)]
    return steps + ["head -c 1000000 /dev/zero > blob && ls | wc -l"]


def median_ms(function: Callable[[], object], repeats: int, after: Callable[[object], None] = lambda _: None) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
        after(result)
    return statistics.median(times)


def measure(make: Callable[[], object], options: dict, prefix: list[str], repeats: int) -> dict[str, float]:
    """clone / restore / fork / replay medians for ``prefix`` played after ``reset(options=options)``."""
    env, other = make(), make()
    try:
        env.reset(seed=0, options=options)
        for action in prefix:
            env.step(action)
        other.reset(seed=0, options=options)  # running, with its sandbox, like an env a search keeps
        state = env.clone_state()

        def replay():
            other.reset(seed=0, options=options)
            for action in prefix:
                other.step(action)

        return {"clone": median_ms(env.clone_state, repeats),
                "restore": median_ms(lambda: other.restore_state(state), repeats),
                "fork": median_ms(env.fork, repeats, after=lambda child: child.close()),
                "replay": median_ms(replay, repeats),
                "bytes": getattr(state, "nbytes", 0), "kind": getattr(state, "kind", "server")}
    finally:
        env.close()
        other.close()


def cases(names: list[str], pools: dict[str, SandboxPool]) -> list[tuple[str, int, Callable, dict, list[str]]]:
    """(env, prefix length, factory, reset options, prefix) for the envs asked for."""
    out = []
    if "code" in names:
        for n in (1, 3):
            out.append(("Code-v0", n, lambda: CodeEnv(pool=pools["python"], max_steps=8),
                        {"task_id": "HumanEval/0"}, [WRONG] * n))
    if "math" in names:
        for n in (1, 4):
            steps = [f"<python>\nopen('f{i}', 'w').write('x' * 1000)\nprint({i})\n</python>" for i in range(n)]
            out.append(("Math-v0", n, lambda: MathEnv(pool=pools["python"], max_steps=8),
                        {"task": MATH_TASK}, steps))
    if "shell" in names:
        for n in (4, 16):
            out.append(("Shell-v0", n, lambda: ShellEnv(pool=pools["python"], max_steps=32),
                        {"task": SHELL_TASK}, shell_steps(n)))
    if "remote" in names:
        from selfgym.envs.remote.client import RemoteEnv

        for n in (4, 16):
            out.append(("Remote-v0 (Shell-v0)", n, lambda: RemoteEnv(pools["remote"]), {"task": SHELL_TASK},
                        shell_steps(n)))
    if "web" in names:
        from selfgym.envs.web_env import WebEnv

        out.append(("Web-v0", 0, lambda: WebEnv(pool=pools["web"], max_steps=32), {"task_id": "web/shop-003"}, []))
        out.append(("Web-v0", 4, lambda: WebEnv(pool=pools["web"], max_steps=32), {"task_id": "web/shop-003"},
                    "web-prefix"))
    return out


def web_prefix(make: Callable[[], object], options: dict) -> list[str]:
    """The actions of shop-003's reference up to the cart (ids read from a play of it)."""
    from selfgym.envs.web.elements import find

    env = make()
    try:
        observation, _ = env.reset(seed=0, options=options)
        actions = [f'click({find(observation, "link", "Audio")})']
        observation = env.step(actions[-1])[0]
        actions.append(f'click({find(observation, "link", "Cadence Buds")})')
        observation = env.step(actions[-1])[0]
        actions += [f'type({find(observation, "spinbutton", "Quantity")}, "2")',
                    f'click({find(observation, "button", "Add to cart")})']
        return actions
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--envs", nargs="+", default=["code", "math", "shell", "remote", "web"],
                        choices=["code", "math", "shell", "remote", "web"])
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    client = docker_client()
    pools: dict[str, object] = {}
    rows = []
    servers = []
    try:
        if "remote" in args.envs:
            servers.append(env_server("selfgym/Shell-v0", "--max-sessions", "4", "--allow-custom-tasks"))
            pools["remote"] = servers[-1].__enter__().url
        if {"code", "math", "shell"} & set(args.envs):
            pools["python"] = SandboxPool(build_image(client, "python"), size=3, client=client, warm=3)
        if "web" in args.envs:
            from selfgym.envs.web.container import WEB_LIMITS
            from selfgym.envs.web_env import web_image

            pools["web"] = SandboxPool(web_image(), size=3, limits=WEB_LIMITS, client=client)
        load_before = os.getloadavg()
        for env_id, n, make, options, prefix in cases(args.envs, pools):
            if prefix == "web-prefix":
                prefix = web_prefix(make, options)
            result = measure(make, options, prefix, args.repeats)
            rows.append({"env": env_id, "prefix": n, **result})
            print(rows[-1], flush=True)
        load = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    finally:
        for name, pool in pools.items():
            if name != "remote":
                pool.close()
        for server in servers:
            server.__exit__(None, None, None)
    table = Table(title=f"Fork cost vs replaying the prefix (median of {args.repeats}, ms; load average "
                        f"{load[0]:.1f} before, {load[3]:.1f} after, {os.cpu_count()} CPUs)")
    for column in ("env", "prefix", "how", "saved bytes", "clone", "restore", "fork", "replay", "replay / restore"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["env"], str(row["prefix"]), row["kind"], f"{row['bytes']:,}", f"{row['clone']:.0f}",
                      f"{row['restore']:.0f}", f"{row['fork']:.0f}", f"{row['replay']:.0f}",
                      f"{row['replay'] / max(row['restore'], 1e-3):.1f}x")
    Console(width=150).print(table)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"rows": rows, "load": load, "repeats": args.repeats}, out, indent=1)


if __name__ == "__main__":
    main()
