"""The web sandbox's isolation: no route to anywhere, no host mount, and a browser that reaches only the task's sites."""

from __future__ import annotations

import pytest

from selfgym.envs import Task
from selfgym.envs.web_env import WebEnv

pytestmark = pytest.mark.docker

WIKI_TASK = Task(id="t/wiki", family="web", prompt="Read.", data={
    "category": "navigation", "sites": ["wiki"], "check": {"url": "/"}, "reference": ['answer("done")']})

PROBE = r"""
import os, socket
for target in [("1.1.1.1", 80), ("8.8.8.8", 53), ("172.17.0.1", 2375), ("10.0.0.1", 80)]:
    try:
        socket.create_connection(target, timeout=2).close()
        print("CONNECTED", target)
    except OSError as exc:
        print("refused", target, exc.errno)
try:
    socket.getaddrinfo("example.com", 80)
    print("RESOLVED example.com")
except OSError:
    print("no dns")
print("interfaces", sorted(os.listdir("/sys/class/net")))
print("routes", len(open("/proc/net/route").read().splitlines()) - 1)
"""


@pytest.fixture(scope="module")
def env():
    environment = WebEnv(max_steps=5)
    environment.reset(options={"task": WIKI_TASK})
    yield environment
    environment.close()


def test_the_web_sandbox_has_no_route_out(env):
    # keep_background: any other command would end the sandbox's servers and Chromium with it
    result = env.sandbox.run(["python3", "-c", PROBE], keep_background=True, timeout_s=30)
    assert result.exit_code == 0, result.stderr
    assert "CONNECTED" not in result.stdout and "RESOLVED" not in result.stdout
    assert "interfaces ['lo']" in result.stdout and "routes 0" in result.stdout
    assert result.stdout.count("refused") == 4


def test_the_web_sandbox_has_no_host_mount_and_no_privileges(env, client):
    info = client.api.inspect_container(env.sandbox.container_id)
    host = info["HostConfig"]
    assert info["Mounts"] == [] and not host.get("Binds")  # only tmpfs (HostConfig.Tmpfs), nothing of the host
    assert set(host["Tmpfs"]) == {"/work", "/tmp"}
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"]
    assert info["Config"]["User"] == "1000:1000" and not host["Privileged"]


def test_the_browser_reaches_only_the_task_sites(env):
    env.reset(options={"task": WIKI_TASK})
    browser = env.unwrapped._browser  # white box: run a fetch in the page, as a script on a site could
    fetch = "async (url) => { try { await fetch(url, {mode: 'no-cors'}); return 'reached'; } " \
            "catch (e) { return 'blocked'; } }"
    assert browser.evaluate(fetch, "http://wiki.localhost:8888/recent") == "reached"
    for url in ("http://shop.localhost:7770/", "http://127.0.0.1:9222/json/version", "http://1.1.1.1/",
                "http://example.com/"):
        assert browser.evaluate(fetch, url) == "blocked", url
    observation, _, _, _, info = env.step('goto("http://shop.localhost:7770/")')
    assert "only open pages of this task's sites" in info["error"]
