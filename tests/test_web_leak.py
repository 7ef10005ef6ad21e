"""No leaks: 200 web episodes leave no Chromium process, container, tunnel or Playwright driver behind."""

from __future__ import annotations

import os
import threading

import psutil
import pytest

from selfgym.envs import Task
from selfgym.envs.web_env import WebEnv
from selfgym.sandbox.reaper import LABEL_PID

pytestmark = pytest.mark.docker

EPISODES = 200
ACCOUNT = Task(id="t/account", family="web", prompt="Open your account.", data={
    "category": "navigation", "sites": ["shop"], "start": "/account", "check": {"url": "/account"},
    "reference": ['answer("done")']})


def our_containers(client) -> list[str]:
    return [c.id for c in client.containers.list(all=True, ignore_removed=True,
                                                 filters={"label": [f"{LABEL_PID}={os.getpid()}"]})]


def host_browser_processes() -> list[psutil.Process]:
    """Processes of this test run that are browsers or Playwright drivers (none should outlive the env)."""
    return [p for p in psutil.Process().children(recursive=True)
            if any(word in " ".join(p.cmdline()).lower() for word in ("chrom", "playwright", "node"))]


def tcp_sockets() -> int:
    """Open TCP sockets of this process (the DevTools tunnel listens on, and relays through, such sockets)."""
    return len(psutil.Process().net_connections(kind="tcp"))


def container_process_counts(client, container_id: str) -> tuple[int, int]:
    """Chromium and socat processes in the container, as the host sees them: the DevTools tunnel's socat runs
    beside the episode's namespaces, so the episode's own ``ps`` cannot list it."""
    top = client.api.top(container_id, ps_args="-eo pid,comm")  # Docker filters ps by the PID column
    names = [process[top["Titles"].index("COMMAND")].strip() for process in top["Processes"]]
    return names.count("chromium"), names.count("socat")


def test_200_episodes_leak_nothing(client):
    containers_before = set(our_containers(client))
    browsers_before = {p.pid for p in host_browser_processes()}
    sockets_before = tcp_sockets()
    env = WebEnv(max_steps=2)
    counts = []
    for episode in range(EPISODES):
        env.reset(options={"task": ACCOUNT})
        _, reward, terminated, _, _ = env.step('answer("done")')
        assert terminated and reward == 1.0
        if episode in (9, EPISODES - 1):
            counts.append(container_process_counts(client, env.unwrapped._container.sandbox.container_id))
    (chromium_early, tunnels_early), (chromium_late, tunnels_late) = counts
    assert chromium_late <= chromium_early  # no renderer or tab piles up across episodes
    assert tunnels_early == tunnels_late == 1  # one DevTools tunnel for the env's life
    assert len(set(our_containers(client)) - containers_before) == 1
    env.close()

    assert set(our_containers(client)) == containers_before  # the web sandbox (and its Chromium) is gone
    assert {p.pid for p in host_browser_processes()} <= browsers_before  # the Playwright driver is stopped
    assert not [t for t in threading.enumerate() if t.name == "selfgym-playwright"]
    assert tcp_sockets() <= sockets_before
