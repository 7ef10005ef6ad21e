"""What a curriculum adds to a reset of ``selfgym env-server``: the same Math-v0 server without a curriculum, with
the self-evolving curriculum on SQLite, and on a PostgreSQL server (a temporary one, started for the run), in
the same run.

    .venv/bin/python benchmarks/curriculum_bench.py [--resets 200] [--no-postgres]

Each reset is ``Remote-v0``'s ``reset()`` without a task over the WebSocket (the server's source samples one, or
its curriculum chooses: it reads the outcomes recorded since its last look, draws, records the draw); each is
followed by a wrong answer, untimed, whose outcome the server records (so the log grows as in training). Also
timed in-process: ``CurriculumService.choose()`` and ``finished()`` alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
from rich.console import Console
from rich.table import Table

import selfgym  # noqa: F401 - registers the ids

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from env_servers import env_server  # noqa: E402
from pg_cluster import postgres_cluster  # noqa: E402


def ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def timed_resets(url: str, resets: int) -> list[float]:
    env = gym.make("selfgym/Remote-v0", url=url)
    seconds = []
    try:
        env.reset(seed=0)  # the session opens (untimed)
        env.step("The answer is \\boxed{-123456789}.")
        for i in range(resets):
            started = time.perf_counter()
            env.reset(seed=i + 1)
            seconds.append(time.perf_counter() - started)
            env.step("The answer is \\boxed{-123456789}.")
    finally:
        env.close()
    return seconds


def in_process(database: str, resets: int) -> tuple[list[float], list[float]]:
    from selfgym.curricula.service import open_service

    env = gym.make("selfgym/Math-v0")
    service = open_service(list(env.unwrapped.source), "self_evolving", database, run="in-process", model="bench")
    chose, finished = [], []
    for i in range(resets):
        started = time.perf_counter()
        task = service.choose()
        chose.append(time.perf_counter() - started)
        started = time.perf_counter()
        service.finished(f"e{i}", task, 0.0)
        finished.append(time.perf_counter() - started)
    service.store.close()
    return chose, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resets", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    console = Console()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        stores = {"SQLite": os.path.join(folder, "c.db")}
        with postgres_cluster() if not args.no_postgres else _nothing() as url:
            if url:
                stores["PostgreSQL"] = url
            with env_server("selfgym/Math-v0") as server:
                rows.append(("reset, no curriculum", timed_resets(server.url, args.resets)))
            for name, database in stores.items():
                with env_server("selfgym/Math-v0", "--curriculum", "self_evolving", "--curriculum-db",
                                database) as server:
                    rows.append((f"reset, self-evolving on {name}", timed_resets(server.url, args.resets)))
                chose, finished = in_process(database, args.resets)
                rows.append((f"  choose() alone, {name}", chose))
                rows.append((f"  finished() alone, {name}", finished))
    table = Table(title=f"{args.resets} resets each; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for column in ("what", "median ms", "p90 ms"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for label, seconds in rows:
        table.add_row(label, f"{ms(seconds, 50):.1f}", f"{ms(seconds, 90):.1f}")
    console.print(table)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
