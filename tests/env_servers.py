"""``selfgym env-server`` (and other HTTP servers) as real subprocesses, for the tests and the benchmark that talk to
them over the network."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    token: str | None = None

    def get(self, path: str) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=headers), timeout=30) as reply:
            return json.loads(reply.read())

    def sessions(self) -> dict:
        return self.get("/sessions")

    def wait_for(self, predicate, timeout_s: float = 30.0) -> dict:
        """The ``/sessions`` stats once ``predicate(stats)`` holds (the last ones after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.sessions()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.1)


@contextlib.contextmanager
def env_server(env_id: str, *args: str, token: str | None = None, timeout_s: float = 120.0) -> Iterator[ServerProcess]:
    """Run ``selfgym env-server ENV_ID ARGS`` on a free port until the block ends (then SIGTERM, as an operator
    would stop it); yields its URL and process once ``/health`` answers. One server process unless ARGS say
    ``--processes``."""
    port = free_port()
    if "--processes" not in args:  # one process unless asked: what most tests look at (and cheaper to start)
        args = ("--processes", "1", *args)
    command = [sys.executable, "-m", "selfgym", "env-server", env_id, "--port", str(port), *args]
    if token is not None:
        command += ["--token", token]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with http_server(command, port, cwd=ROOT, env=env, token=token, timeout_s=timeout_s) as server:
        yield server


@contextlib.contextmanager
def http_server(command: list[str], port: int, *, cwd: Path, env: dict[str, str], token: str | None = None,
                timeout_s: float = 120.0) -> Iterator[ServerProcess]:
    """Run ``command`` (a server that listens on 127.0.0.1:``port``) until the block ends; yields it once its
    ``/health`` answers ``healthy``."""
    log = tempfile.TemporaryFile("w+")  # a pipe nobody reads would fill up and stall the server
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    server = ServerProcess(f"http://127.0.0.1:{port}", process, token)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(server.url + "/health", timeout=2) as reply:
                    if json.loads(reply.read())["status"] == "healthy":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the server did not answer /health within {timeout_s} s:\n{log.read()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
