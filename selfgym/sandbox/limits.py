"""Resource limits of a sandbox, and the result of one command run in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


EXECUTOR_HEADROOM_MB = 64


@dataclass(frozen=True)
class Limits:
    """What one sandbox container may use. Every field is enforced by the kernel through Docker.

    Attributes:
        cpus: CPU share in cores (CFS quota), e.g. ``1.0``.
        memory_mb: RAM in MiB, swap excluded (no swap is granted). tmpfs contents count against it.
        pids: most processes/threads alive at once in the container (fork bombs hit this).
        timeout_s: default wall-clock limit of one ``run`` in seconds; the whole process tree is killed.
        disk_mb: size in MiB of each writable tmpfs (``/work`` and ``/tmp``); the root is read-only.
        network: ``False`` gives the container no network interface but loopback.
        read_only_root: mount the image's file system read-only.
        max_output_bytes: bytes kept of each of stdout and stderr per command (the head, plus the last 4 KiB).
        runtime: the Docker runtime to run the container with (e.g. ``"runsc"`` for gVisor, when the engine has it
            installed); ``None`` is the engine's default (runc). A stronger runtime adds a kernel boundary.
        episode_network: ``"fresh"`` (default): every episode gets a network namespace of its own with only
            loopback, so no socket, port, connection state or counter of one episode reaches the next.
            ``"none"``: no program of an episode may make any socket but a Unix one (a seccomp rule), so no
            network state can exist to outlive it; cheaper than a new namespace per episode, for code that never
            needs a network, not even loopback (Code-v0's solutions and tests, Math-v0's Python).
            ``"container"``: episodes use the container's network namespace, as they must with ``network=True``
            (the default then) or when the host reaches a service inside through ``docker exec`` (Web-v0's
            browser); such a sandbox is replaced rather than reset between episodes.
    """

    cpus: float = 1.0
    memory_mb: int = 512
    pids: int = 256
    timeout_s: float = 10.0
    disk_mb: int = 128
    network: bool = False
    read_only_root: bool = True
    max_output_bytes: int = 256 * 1024
    runtime: str | None = None
    episode_network: Literal["fresh", "none", "container", None] = None

    @classmethod
    def of(cls, value: Limits | Mapping[str, Any] | None) -> Limits | None:
        """``value`` as :class:`Limits`: a mapping (an experiment file's ``limits:``) is read as its fields; the
        one place limits are parsed."""
        return cls(**value) if isinstance(value, Mapping) else value

    def __post_init__(self) -> None:
        if self.episode_network is None:  # a network reaches the container's namespace only
            object.__setattr__(self, "episode_network", "container" if self.network else "fresh")
        if self.episode_network not in ("fresh", "none", "container"):
            raise ValueError("Limits.episode_network must be 'fresh', 'none' or 'container', got "
                             f"{self.episode_network!r}")
        if self.network and self.episode_network != "container":
            raise ValueError("Limits(network=True) needs episode_network='container': an episode's own network "
                             "namespace has only loopback, and 'none' allows no network socket at all")
        for name in ("cpus", "memory_mb", "pids", "timeout_s", "disk_mb", "max_output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")
        # Files in the two tmpfs mounts count against the memory limit and no process can free them: they must
        # leave the executor (~20 MiB) room, or the agent could starve it by filling the disk.
        needed = 2 * self.disk_mb + EXECUTOR_HEADROOM_MB
        if self.memory_mb < needed:
            raise ValueError(
                f"Limits.memory_mb={self.memory_mb} leaves the sandbox's executor no room: files in /work and /tmp "
                f"(2 x disk_mb = {2 * self.disk_mb} MiB) count against memory. Use memory_mb >= {needed} or "
                f"disk_mb <= {max(1, (self.memory_mb - EXECUTOR_HEADROOM_MB) // 2)}.")
        if self.runtime is not None and (not isinstance(self.runtime, str) or not self.runtime.strip()):
            raise ValueError(f"Limits.runtime must be a Docker runtime name such as 'runsc', got {self.runtime!r}")
        if self.pids < 8:
            raise ValueError(f"Limits.pids must be at least 8, got {self.pids}")


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one command.

    ``exit_code`` follows the shell convention: 128 + N when the process died of signal N (137 for SIGKILL).
    ``stdout``/``stderr`` are decoded as UTF-8 (invalid bytes replaced) and capped (``truncated`` is then set).
    ``timed_out``: the wall-clock limit killed the process tree. ``oom_killed``: the kernel's OOM killer killed a
    process of the command. ``disk_full``: a writable tmpfs was full when the command ended. ``pids_limited``: a
    fork failed because the container's pids limit was reached (a fork bomb, or too many threads).
    ``duration_s``: wall-clock seconds measured inside the container.
    """

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False
    disk_full: bool = False
    pids_limited: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its limits."""
        return self.exit_code == 0 and not (self.timed_out or self.oom_killed)


@dataclass(frozen=True)
class JudgedResult:
    """The outcome of :meth:`~selfgym.sandbox.Sandbox.run_judged`: the judge's own result (its stdout is the
    verdict), and what became of the subject, the agent's side: its exit code when it ended before the judge did
    (``None`` when the judge finished first and it was killed), and the end of its stderr (capped)."""

    judge: ExecResult
    subject_exit_code: int | None
    subject_stderr: str


@dataclass(frozen=True)
class PythonProgram:
    """A Python program (its source) for :meth:`Sandbox.run` / :meth:`Sandbox.run_judged`: a warm fork of the
    episode's server runs it (a process of its own, under the uid it is for, with its own pipes), without an
    interpreter's start-up (a millisecond, not 10-20). Like ``python3 -I -c SOURCE``, except that ``site`` is in
    and the standard library's common modules are loaded already.

    ``public``: the source holds nothing a later program may not see (it ships with your code; a task's data
    comes on stdin or in files). The episode's server then compiles it once and keeps it, and every later
    program of the episode, the agent's too, starts as a copy of that memory. Any other source goes to its own process only.
    """

    source: str
    public: bool = False
