"""The web sandbox: one container running the sites and a headless Chromium, and the site registry.

Where Chromium runs, and why: in the same sandbox container as the sites, a container with no network interface
but loopback (``network_mode=none``), a read-only root, no capabilities and uid 1000. Chromium there reaches the
sites on 127.0.0.1 and nothing else: there is no route anywhere, not even to the host, which a private ``internal``
Docker network would still give (the host owns its gateway address). Playwright stays on the host and talks to
Chromium's DevTools port through ``docker exec`` (:mod:`~selfgym.envs.web.tunnel`), so the only way in is the Docker
API. Everything it needs is in Debian (``chromium``, ``python3-flask``, ``socat``), so the image builds offline
from a debootstrap base like the Python sandbox; the sites' code and data are copied in at start (no host mount).
Chromium runs with ``--no-sandbox``: its own sandbox needs namespaces that the container withholds; the container
is the sandbox.

Site reset: the pristine databases are built once on the host (:func:`seed_database`), written to the container at
start, and each reset copies them over the live files with an atomic rename (one ``run``, a few ms). The Flask apps
open a connection per request, so the next request sees the seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import importlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ...sandbox import Limits, SandboxError

if TYPE_CHECKING:
    from ...sandbox import Sandbox

# Chromium with ~6 processes and their threads needs more than the Python sandbox's defaults. Two CPUs: during a
# navigation its browser, renderer and GPU processes work at once, and a one-CPU quota throttled the container in
# half of its 100 ms scheduling periods (11% of the wall time, measured on reference episodes).
# The host reaches Chromium through `docker exec` (see tunnel.py), which enters the container's namespaces: the
# services run in the container's network namespace, and the sandbox (never reset: the agent runs no code in it)
# would be replaced, not reset, between episodes.
# /tmp is a tmpfs of disk_mb, and Chromium (--disable-dev-shm-usage) keeps its shared memory there as unlinked files:
# 90-165 MB of them during the web audit, moving with the pages drawn. A renderer that cannot get shared memory
# crashes, which the env must count against the agent; 512 MB leaves room (the memory limit still bounds it all).
WEB_LIMITS = Limits(cpus=2.0, memory_mb=1536, pids=1024, timeout_s=30.0, disk_mb=512, episode_network="container")
ROOT = "/work/web"
DEVTOOLS_PORT = 9222
PROFILE_DIR = "/tmp/chromium-profile"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
    "--disable-extensions", "--disable-breakpad", "--mute-audio", "--hide-scrollbars",
    # What Playwright passes when it launches Chromium itself: no experiments, background services, keyring
    # (D-Bus) or throttled timers (MiniWoB pages run on timers).
    "--disable-field-trial-config", "--disable-client-side-phishing-detection", "--disable-default-apps",
    "--disable-component-extensions-with-background-pages", "--disable-hang-monitor", "--disable-popup-blocking",
    "--disable-prompt-on-repost", "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
    "--no-service-autorun", "--force-color-profile=srgb", "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
    # No back-forward cache: back() reloads the page, so it shows the sites' current data (and fires "load").
    "--disable-features=HttpsUpgrades,Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
    "BackForwardCache",
    f"--remote-debugging-port={DEVTOOLS_PORT}", f"--user-data-dir={PROFILE_DIR}", "about:blank",
)
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Site:
    """One web app of the sandbox. ``origin`` is what the browser uses (``*.localhost`` resolves to loopback)."""

    name: str
    title: str
    port: int
    has_database: bool = True

    @property
    def origin(self) -> str:
        return f"http://{self.name}.localhost:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + (path if path.startswith("/") else "/" + path)


# The ports follow WebArena's (shop 7770, forum 9999, wiki 8888), so that tasks read alike.
SITES: dict[str, Site] = {
    "shop": Site("shop", "Harbor Goods", 7770),
    "forum": Site("forum", "Threadline", 9999),
    "wiki": Site("wiki", "Atlas Wiki", 8888),
    "miniwob": Site("miniwob", "MiniWoB++", 8765, has_database=False),
}
DATABASE_SITES = tuple(name for name, site in SITES.items() if site.has_database)


@cache
def seed_database(name: str) -> bytes:
    """The pristine database of site ``name``: the bytes of an SQLite file, built from ``sites/<name>_data.py``."""
    module = importlib.import_module(f"selfgym.envs.web.sites.{name}_data")
    conn = sqlite3.connect(":memory:")
    try:
        module.seed(conn)
        conn.commit()
        return conn.serialize()
    finally:
        conn.close()


def open_database(data: bytes) -> sqlite3.Connection:
    """A private in-memory copy of an SQLite file's bytes, to query (checks read the sites' state this way)."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(data)
    conn.row_factory = sqlite3.Row
    return conn


@cache
def site_files() -> dict[str, bytes]:
    """Relative path -> bytes of every file that runs the sites (Python modules, templates, CSS)."""
    files: dict[str, bytes] = {}

    def walk(folder, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir() and entry.name != "__pycache__":
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file() and entry.name.endswith((".py", ".html", ".css")):
                files[prefix + entry.name] = entry.read_bytes()

    walk(resources.files("selfgym.envs.web") / "sites", "")
    return files


class WebContainer:
    """The services of one web sandbox: start them, reset the sites' data, read it, add MiniWoB pages.

    Every command runs with ``keep_background=True``: the sandbox's executor otherwise kills all processes a
    command leaves behind, and the servers and Chromium are such processes.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.devtools_path = ""
        self.has_miniwob = False

    def start(self) -> None:
        """Copy the sites in, write the seeded databases, start the servers and Chromium, wait until all listen."""
        files = {f"{ROOT}/sites/{path}": data for path, data in site_files().items()}
        for name in DATABASE_SITES:
            files[f"{ROOT}/seed/{name}.db"] = files[f"{ROOT}/data/{name}.db"] = seed_database(name)
        self.sandbox.write_files(files)
        servers = " ".join(f"{site.name}:{site.port}" for site in SITES.values())
        chromium = " ".join(CHROMIUM_FLAGS)
        launch = (f"cd {ROOT}/sites && (nohup python3 serve.py {ROOT}/data {servers} >/tmp/sites.log 2>&1 &); "
                  f"(nohup chromium {chromium} >/tmp/chromium.log 2>&1 &)")
        self._run(launch, "start the sites and Chromium")
        ports = [site.port for site in SITES.values()] + [DEVTOOLS_PORT]
        # Chromium's browser endpoint (ws://127.0.0.1:9222/devtools/browser/<id>) gives the path to connect to.
        wait = (
            "import json, socket, sys, time, urllib.request\n"
            f"deadline = time.monotonic() + {START_TIMEOUT_S - 5}\n"
            "def up(port):\n"
            "    try:\n"
            "        socket.create_connection(('127.0.0.1', port), timeout=1).close(); return True\n"
            "    except OSError:\n"
            "        return False\n"
            "while time.monotonic() < deadline:\n"
            f"    if all(up(p) for p in {ports!r}):\n"
            f"        version = urllib.request.urlopen('http://127.0.0.1:{DEVTOOLS_PORT}/json/version', timeout=5)\n"
            "        url = json.load(version)['webSocketDebuggerUrl']\n"
            "        print(url[url.index('/devtools/'):]); sys.exit(0)\n"
            "    time.sleep(0.05)\n"
            "sys.exit(1)\n"
        )
        result = self.sandbox.run(["python3", "-c", wait], timeout_s=START_TIMEOUT_S, keep_background=True)
        if result.exit_code != 0:
            logs = self._run("tail -n 20 /tmp/sites.log /tmp/chromium.log", "read the logs", check=False)
            raise SandboxError(f"The web sandbox did not come up within {START_TIMEOUT_S:.0f} s:\n{logs}")
        self.devtools_path = result.stdout.strip()

    def install_miniwob(self, files: dict[str, bytes]) -> None:
        """Write MiniWoB++'s pages (paths relative to its ``html`` folder) where the ``miniwob`` site serves them."""
        if not self.has_miniwob:
            self.sandbox.write_files({f"{ROOT}/miniwob/{path}": data for path, data in files.items()})
            self.has_miniwob = True

    def reset_databases(self, names: Iterable[str] = DATABASE_SITES) -> None:
        """Put the pristine databases of sites ``names`` back (atomic rename; a stale rollback journal goes)."""
        names = [n for n in names if n in DATABASE_SITES]
        if names:
            script = " && ".join(f"cp {ROOT}/seed/{n}.db {ROOT}/data/.{n}.db && rm -f {ROOT}/data/{n}.db-journal && "
                                 f"mv -f {ROOT}/data/.{n}.db {ROOT}/data/{n}.db" for n in names)
            self._run(script, "reset the sites' databases")

    def put_databases(self, databases: dict[str, bytes]) -> None:
        """Make the given bytes the live databases of their sites (a fork's; atomic rename, as a reset)."""
        names = [n for n in databases if n in DATABASE_SITES]
        self.sandbox.write_files({f"{ROOT}/data/.{n}.db": databases[n] for n in names})
        if names:
            self._run(" && ".join(f"rm -f {ROOT}/data/{n}.db-journal && mv -f {ROOT}/data/.{n}.db {ROOT}/data/{n}.db"
                                  for n in names), "put the sites' databases")

    def database_bytes(self, name: str) -> bytes:
        """The current bytes of site ``name``'s database file."""
        return self.sandbox.read_file(f"{ROOT}/data/{name}.db")

    def database(self, name: str) -> sqlite3.Connection:
        """A private in-memory copy of site ``name``'s current database."""
        return open_database(self.database_bytes(name))

    def processes(self) -> list[str]:
        """The command names of the processes running in the container (for leak checks)."""
        out = self._run("ps -e -o comm=", "list processes")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def _run(self, command: str, purpose: str, *, check: bool = True) -> str:
        result = self.sandbox.run(command, keep_background=True)
        if check and result.exit_code != 0:
            raise SandboxError(f"Could not {purpose} in the web sandbox (exit {result.exit_code}): "
                               f"{(result.stdout + result.stderr)[-2000:]}")
        return result.stdout + result.stderr
