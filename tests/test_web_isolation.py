"""The web sandbox's isolation: no route to anywhere, no host mount, and a browser that reaches only the task's sites."""

from __future__ import annotations

import time

import pytest

from selfgym.sandbox.sandbox import EXECUTOR_CAPABILITIES

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
    # the container's user is the executor's (root inside), shared by the episode's server (PID 1 of the episode,
    # which runs nothing of the agent's); every other process, the sites and Chromium included, runs as the
    # agent's uid without any capability
    assert info["Config"]["User"] == "0:0" and not host["Privileged"]
    assert sorted(host["CapAdd"]) == sorted(f"CAP_{cap}" for cap in EXECUTOR_CAPABILITIES) or \
        sorted(host["CapAdd"]) == sorted(EXECUTOR_CAPABILITIES)
    owners = env.unwrapped.sandbox.run("ps -e -o pid=,uid=", keep_background=True).stdout.split()
    by_pid = dict(zip(owners[::2], owners[1::2]))
    assert by_pid.pop("1") == "0", by_pid
    assert set(by_pid.values()) == {"1000"}, by_pid


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


# Two recording servers inside the web sandbox: the page's own origin (8000) and another one (8001). The page
# tries every way out of its origin that a script or the agent has; the other server must see none of them.
RECORDER = r"""
import http.server, socketserver, sys, threading
from urllib.parse import parse_qs, urlsplit
PROBE = open('/tmp/probe.html', 'rb').read()
def serve(port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_one(self):
            with open(f'/tmp/hits-{port}.txt', 'a') as log:
                log.write(self.command + ' ' + self.path + '\n')
            target = parse_qs(urlsplit(self.path).query).get('to')
            if target:
                self.send_response(302); self.send_header('Location', target[0]); self.end_headers(); return
            body = PROBE if self.path.startswith('/probe') else b'<html><body>hello</body></html>'
            self.send_response(200); self.send_header('Content-Type', 'text/html')
            self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
        do_GET = do_POST = handle_one
        def log_message(self, *args): pass
    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
    Server(('127.0.0.1', port), Handler).serve_forever()
threading.Thread(target=serve, args=(8001,), daemon=True).start()
serve(8000)
"""
OTHER = "http://127.0.0.1:8001"
PROBE_PAGE = """<html><body><a id="blank" target="_blank" href="OTHER/blank-link">new tab</a>
<form id="form" method="post" action="OTHER/form"><input name="q" value="1"></form>
<script>
async function attempt(name, action) {
  try { await action(); return [name, 'reached']; } catch (e) { return [name, 'blocked']; }
}
async function probe() {
  const add = (tag, props) => { const el = document.createElement(tag); Object.assign(el, props);
                                document.body.appendChild(el); return el; };
  add('iframe', {src: 'OTHER/iframe'});
  add('iframe', {src: '/redirect?to=OTHER/iframe-redirected'});
  add('iframe', {src: "data:text/html,<script>fetch('OTHER/from-data', {mode: 'no-cors'})</" + "script>"});
  add('img', {src: 'OTHER/img'});
  add('link', {rel: 'stylesheet', href: 'OTHER/style'});
  add('script', {src: 'OTHER/script'});
  try { new WebSocket('ws://127.0.0.1:8001/websocket'); } catch (e) {}
  try { new EventSource('OTHER/events'); } catch (e) {}
  navigator.sendBeacon('OTHER/beacon', 'x');
  new Worker(URL.createObjectURL(new Blob(["fetch('OTHER/worker', {mode: 'no-cors'}).catch(() => 0)"])));
  window.open('OTHER/popup');
  window.open('/redirect?to=OTHER/popup-redirected');
  document.getElementById('blank').click();
  return Object.fromEntries(await Promise.all([
    attempt('fetch', () => fetch('OTHER/fetch', {mode: 'no-cors'})),
    attempt('redirect', () => fetch('/redirect?to=OTHER/redirected', {mode: 'no-cors'})),
    attempt('own origin', () => fetch('/own', {mode: 'no-cors'})),
    attempt('devtools', () => fetch('http://127.0.0.1:9222/json/version', {mode: 'no-cors'})),
    attempt('file', () => fetch('file:///etc/passwd')),
    attempt('service worker', async () => { if (!await navigator.serviceWorker.register('/sw.js')) throw 0; }),
  ]));
}
</script></body></html>""".replace("OTHER", OTHER)


def test_no_request_leaves_the_tasks_sites_whatever_makes_it(env):
    sandbox, browser = env.sandbox, env.unwrapped._browser
    sandbox.write_files({"/tmp/probe.html": PROBE_PAGE.encode(), "/tmp/recorder.py": RECORDER.encode()})
    started = sandbox.run("rm -f /tmp/hits-*.txt; (nohup python3 /tmp/recorder.py >/tmp/recorder.log 2>&1 &); "
                          "for i in $(seq 100); do python3 -c \"import socket; [socket.create_connection(("
                          "'127.0.0.1', p)).close() for p in (8000, 8001)]\" 2>/dev/null && exit 0; sleep 0.1; done; "
                          "exit 1",
                          keep_background=True, timeout_s=30)
    assert started.exit_code == 0, started.stdout + started.stderr

    def hits(port: int) -> list[str]:
        return sandbox.run(f"cat /tmp/hits-{port}.txt 2>/dev/null", keep_background=True).stdout.splitlines()

    try:
        browser.new_episode("http://127.0.0.1:8000/probe", ["http://127.0.0.1:8000"])
        results = browser.evaluate("probe()")
        assert results["own origin"] == "reached"  # the page's own origin works: the probe can see a difference
        assert {name: outcome for name, outcome in results.items() if name != "own origin"} == {
            "fetch": "blocked", "redirect": "blocked", "devtools": "blocked", "file": "blocked",
            "service worker": "blocked"}
        browser.evaluate("() => { document.getElementById('form').submit(); }")  # navigates the page itself
        deadline = time.monotonic() + 10
        while "GET /redirect?to=http://127.0.0.1:8001/popup-redirected" not in hits(8000):
            assert time.monotonic() < deadline, hits(8000)  # the popup's request to its own origin came through
            time.sleep(0.2)
        time.sleep(1)
        assert hits(8001) == []  # not one request reached the other origin
        env.step('goto("http://127.0.0.1:8001/")')  # the agent's goto is refused before the browser
        assert hits(8001) == []
    finally:
        sandbox.run("pkill -f /tmp/recorder.py", keep_background=True)
    env.reset(options={"task": WIKI_TASK})  # ends the probe's episode: its popups and tabs are closed
    browser.new_episode("about:blank", ["http://127.0.0.1:8000"])  # back to the probe's context
    assert browser.context.pages == [browser.page]
    env.reset(options={"task": WIKI_TASK})
