"""``selfgym demo``: hostile programs in a sandbox, and what a warm pool costs next to the alternatives."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from .engine import docker_client
from .images import build_image
from .limits import ExecResult, Limits
from .measure import PROGRAM_50MS, Latency, host_python, time_fresh, time_host, time_pool
from .pool import SandboxPool

DEMO_LIMITS = Limits(cpus=1.0, memory_mb=128, pids=64, timeout_s=2.0, disk_mb=16, max_output_bytes=64 * 1024)


@dataclass(frozen=True)
class Hostile:
    name: str
    command: str | list[str]
    expect: str  # the ExecResult attribute that must be set, or "failed" (a non-zero exit)
    timeout_s: float | None = None


HOSTILE_PROGRAMS = [
    Hostile("infinite loop", "python3 -c 'while True: pass'", "timed_out"),
    Hostile("fork bomb", ":(){ :|:& };:", "pids_limited"),
    Hostile("memory bomb", ["python3", "-c", "a = []\nwhile True:\n    a.append(bytearray(16 << 20))"], "oom_killed"),
    Hostile("1 GB of output", "head -c 1000000000 /dev/zero | tr '\\0' x", "truncated", timeout_s=20),
    Hostile("fill the disk", "dd if=/dev/zero of=/work/fill bs=1M count=1000", "disk_full"),
    Hostile("network connection",
            ["python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 80), timeout=1)"], "failed"),
    Hostile("read /etc/shadow", "cat /etc/shadow", "failed"),
    Hostile("kill -9 -1", "kill -9 -1; sleep 0.2; exit 9", "failed"),
]


def _flags(result: ExecResult) -> str:
    names = ("timed_out", "pids_limited", "oom_killed", "truncated", "disk_full")
    return ", ".join(name for name in names if getattr(result, name)) or "-"


def run_demo(runs: int = 40, console: Console | None = None) -> list[Latency]:
    """Run the hostile programs, then time a 50 ms program on the host, in a warm pool and in fresh containers."""
    console = console or Console()
    client = docker_client()
    image = build_image(client, "python", console=console)
    with SandboxPool(image, size=1, limits=DEMO_LIMITS, client=client) as pool:
        table = Table("program", "exit", "flags", "seconds", "contained", "sandbox after",
                      title=f"Hostile programs in a sandbox ({DEMO_LIMITS.memory_mb} MiB, {DEMO_LIMITS.pids} pids, "
                            f"{DEMO_LIMITS.timeout_s:g} s, {DEMO_LIMITS.disk_mb} MiB disk, no network)")
        for hostile in HOSTILE_PROGRAMS:
            with pool.acquire() as sandbox:
                result = sandbox.run(hostile.command, timeout_s=hostile.timeout_s)
                check = sandbox.run("echo ok", timeout_s=5) if sandbox.alive else None
            contained = result.exit_code != 0 if hostile.expect == "failed" else getattr(result, hostile.expect)
            after = "reused" if check is not None and check.ok else "replaced"
            table.add_row(hostile.name, str(result.exit_code), _flags(result), f"{result.duration_s:.2f}",
                          "[green]yes[/]" if contained else "[red]NO[/]", after)
        console.print(table)

        with console.status(f"timing a 50 ms program {runs}× on the host and in a warm pool..."):
            latencies = [Latency.of(f"host ({host_python()})", time_host(PROGRAM_50MS, runs)),
                         Latency.of("warm sandbox pool", time_pool(pool, PROGRAM_50MS, runs))]
    fresh_runs = max(3, runs // 4)
    with console.status(f"timing {fresh_runs} fresh containers..."):
        latencies.append(Latency.of("fresh container per run", time_fresh(client, image, DEMO_LIMITS, PROGRAM_50MS,
                                                                          fresh_runs)))
    host_p50 = latencies[0].p50_ms
    table = Table("mode", "runs", "p50 ms", "p95 ms", "p50 / host", title="Latency of a 50 ms Python program")
    for row in latencies:
        table.add_row(row.mode, str(row.runs), f"{row.p50_ms:.1f}", f"{row.p95_ms:.1f}", f"{row.p50_ms / host_p50:.2f}×")
    console.print(table)
    return latencies
