"""Timing of sandboxed runs against the obvious alternatives; used by ``selfgym demo`` and ``benchmarks/``.

Every function returns wall-clock seconds per run as seen by the caller, so the modes compare like for like:
``host`` (a bare ``python3`` subprocess), ``pool`` (acquire a warm sandbox, run, release it, which resets it),
``exec`` (``docker exec`` into an already running container) and ``fresh`` (create, start, wait for, read and
remove one container per run, with the same limits as a sandbox).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .limits import Limits
from .pool import SandboxPool
from .reaper import owner_labels
from .sandbox import Sandbox, container_spec
from .sdk import docker

# A small program of fixed CPU work, ~50 ms on a 2020s core (the size of a typical unit-test run): fixed work,
# not a timed spin, so that parallel runs compete for the CPU as real programs do.
PROGRAM_50MS = "n = 0\nfor i in range(400_000):\n    n += i * i\nprint(n)\n"


def python_argv(program: str) -> list[str]:
    return ["python3", "-I", "-c", program]


@dataclass(frozen=True)
class Latency:
    """Percentiles of one mode's per-run latency, in milliseconds."""

    mode: str
    runs: int
    p50_ms: float
    p95_ms: float
    mean_ms: float

    @classmethod
    def of(cls, mode: str, seconds: list[float]) -> Latency:
        ms = sorted(s * 1e3 for s in seconds)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        return cls(mode, len(ms), statistics.median(ms), p95, statistics.fmean(ms))


def _timed(fn: Callable[[], None], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def host_python() -> str:
    """The host's ``python3`` to compare with: the distribution's build where there is one (the same build as in
    the offline sandbox image), else the interpreter running selfgym, resolved past venv links and shims."""
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else os.path.realpath(sys.executable)


def time_host(program: str, runs: int, python: str | None = None) -> list[float]:
    """A bare ``python3`` subprocess on the host, no isolation at all."""
    python = python or host_python()

    def once() -> None:
        out = subprocess.run([python, *python_argv(program)[1:]], capture_output=True, check=True)
        assert out.stdout, "the program printed nothing"

    return _timed(once, runs)


def run_in_pool(pool: SandboxPool, program: str) -> None:
    with pool.acquire() as sandbox:
        result = sandbox.run(python_argv(program))
    if not result.ok:
        raise RuntimeError(f"sandboxed run failed: {result}")


def time_pool(pool: SandboxPool, program: str, runs: int) -> list[float]:
    """Acquire a warm sandbox, run the program, release (and so reset) the sandbox."""
    return _timed(lambda: run_in_pool(pool, program), runs)


def time_exec(sandbox: Sandbox, program: str, runs: int) -> list[float]:
    """``docker exec`` into a running container (what most sandboxing code does instead of a resident executor)."""
    api = sandbox.client.api

    def once() -> None:
        exec_id = api.exec_create(sandbox.container_id, python_argv(program), user="1000:1000", workdir="/work")
        api.exec_start(exec_id)
        if api.exec_inspect(exec_id)["ExitCode"] != 0:
            raise RuntimeError("docker exec run failed")

    return _timed(once, runs)


def run_in_fresh_container(client: docker.DockerClient, image: str, limits: Limits, program: str) -> None:
    api = client.api
    spec = container_spec(api, image, limits, python_argv(program), owner_labels(), auto_remove=False,
                          executor=False)
    container_id = api.create_container(**spec)["Id"]
    try:
        api.start(container_id)
        status = api.wait(container_id, timeout=60)["StatusCode"]
        api.logs(container_id)
        if status != 0:
            raise RuntimeError(f"fresh container exited {status}")
    finally:
        api.remove_container(container_id, force=True)


def time_fresh(client: docker.DockerClient, image: str, limits: Limits, program: str, runs: int) -> list[float]:
    """One new container per run, created with the same limits as a sandbox, then removed."""
    return _timed(lambda: run_in_fresh_container(client, image, limits, program), runs)


def throughput(run_once: Callable[[], None], workers: int, runs: int) -> float:
    """Runs per second of ``run_once`` called ``runs`` times from ``workers`` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as executor:
        for future in [executor.submit(run_once) for _ in range(runs)]:
            future.result()
    return runs / (time.perf_counter() - start)
