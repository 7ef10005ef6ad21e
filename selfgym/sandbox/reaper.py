"""Labels that mark our containers, and the reaper that removes those a dead process left behind.

Every container carries ``selfgym.sandbox=1`` plus its owner's host name, PID and process start time (the start
time guards against a recycled PID). A container also exits by itself when its owner dies (the executor sees its
stdin close), and is auto-removed; the reaper catches the rest (an engine restart, a hung container).
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from .errors import translate
from .sdk import docker

LABEL = "selfgym.sandbox"
LABEL_HOST = "selfgym.owner.host"
LABEL_PID = "selfgym.owner.pid"
LABEL_STARTED = "selfgym.owner.started"
LABEL_POOL = "selfgym.pool"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` in clock ticks since boot, or None if it is not running."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


@lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


def owner_labels(pool_id: str = "") -> dict[str, str]:
    """Labels naming this process as the owner of a new container."""
    pid = os.getpid()
    return {
        LABEL: "1",
        LABEL_HOST: _host(),
        LABEL_PID: str(pid),
        LABEL_STARTED: process_start_time(pid) or "",
        LABEL_POOL: pool_id,
    }


def owner_is_dead(labels: dict[str, str]) -> bool:
    """True when the labels name a process on this host that is no longer running."""
    if labels.get(LABEL_HOST) != _host():
        return False  # another machine's process: we cannot tell, so we leave it alone
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return True
    started = process_start_time(pid)
    return started is None or started != labels.get(LABEL_STARTED)


def list_sandboxes(client: docker.DockerClient) -> list:
    """All containers (running or not) that carry our label."""
    try:
        return client.containers.list(all=True, filters={"label": f"{LABEL}=1"}, ignore_removed=True)
    except docker.errors.DockerException as exc:
        raise translate(exc) from None


def reap(client: docker.DockerClient, *, everything: bool = False) -> int:
    """Remove our containers whose owner process is dead (or all of ours with ``everything``).

    Returns how many were removed. Safe to run while other selfgym processes work: their containers stay.
    """
    removed = 0
    for container in list_sandboxes(client):
        if everything or owner_is_dead(container.labels):
            try:
                container.remove(force=True)
                removed += 1
            except docker.errors.NotFound:
                pass  # auto-removed meanwhile
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    raise translate(exc) from None
    return removed
