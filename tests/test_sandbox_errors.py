"""Each way Docker can be missing or broken gives one sentence with the fix, never an SDK stack trace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from selfgym.sandbox import (
    DockerDiskFullError,
    DockerUnavailableError,
    ImageNotFoundError,
    Sandbox,
    SandboxPool,
    docker_client,
    image_tag,
)
from selfgym.sandbox.errors import translate
from selfgym.sandbox.images import context_hash

SELFGYM = [sys.executable, "-m", "selfgym.cli"]


def run_cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*SELFGYM, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, **kwargs)


def test_no_engine_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(DockerUnavailableError, match="No Docker engine is reachable") as info:
        docker_client(fresh=True)
    assert "dockerd" in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__


def test_no_engine_on_the_command_line(tmp_path):
    result = run_cli("sandbox", "reap", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert result.returncode == 2
    assert "No Docker engine is reachable" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as another user")
def test_permission_denied_on_the_socket(client):
    socket_path = Path("/var/run/docker.sock")
    if socket_path.stat().st_mode & 0o006:
        pytest.skip("the socket is world-accessible here")
    # Import everything as root (the interpreter lives under /root), then become `nobody` and run the CLI.
    as_nobody = (
        "import os, sys, selfgym.cli, selfgym.sandbox, selfgym.sandbox.reaper, rich.table\n"
        "import docker, selfgym.sandbox.engine  # loaded on first use since the SDK is lazy: load it while root\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "sys.argv = ['selfgym', 'sandbox', 'ls']; selfgym.cli.main()\n"
    )
    result = subprocess.run([sys.executable, "-c", as_nobody], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result
    assert "Permission denied on the Docker socket" in result.stderr
    assert "usermod -aG docker" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.docker
def test_missing_image_names_the_build_command(client):
    with pytest.raises(ImageNotFoundError, match="selfgym sandbox build"):
        Sandbox("selfgym/python:does-not-exist", client=client)
    with pytest.raises(ImageNotFoundError, match="selfgym sandbox build"):
        SandboxPool("selfgym/python:does-not-exist", size=1, client=client)


@pytest.mark.docker
def test_default_image_missing_is_reported(client, monkeypatch, tmp_path):
    # Sources whose hash no image has: the default image lookup must say how to build it.
    fake = tmp_path / "docker"
    fake.mkdir()
    (fake / "python.Dockerfile").write_text("FROM scratch\n# a version never built\n")
    monkeypatch.setenv("SELFGYM_DOCKER_DIR", str(fake))
    with pytest.raises(ImageNotFoundError, match=r"selfgym/python:[0-9a-f]{12}.*selfgym sandbox build"):
        Sandbox(client=client)


def test_out_of_disk_is_translated():
    error = docker.errors.APIError("500 Server Error: write /var/lib/docker/tmp/x: no space left on device")
    translated = translate(error)
    assert isinstance(translated, DockerDiskFullError)
    assert "docker system prune" in str(translated)


def test_image_tag_follows_the_build_context(monkeypatch, tmp_path):
    real = Path(__file__).resolve().parents[1] / "docker"
    copy = tmp_path / "docker"
    shutil.copytree(real, copy)
    monkeypatch.setenv("SELFGYM_DOCKER_DIR", str(copy))
    before = image_tag("python")
    assert before == f"selfgym/python:{context_hash('python')}"
    assert image_tag("python") == before  # stable
    (copy / "python.Dockerfile").write_text((copy / "python.Dockerfile").read_text() + "\n# changed\n")
    assert image_tag("python") != before


@pytest.mark.docker
def test_built_image_carries_its_context_hash(client, sandbox_image):
    labels = client.images.get(sandbox_image).labels
    assert labels["selfgym.image.context"] == sandbox_image.split(":")[1]
    assert labels["selfgym.image.base"]
    again = run_cli("sandbox", "build", "python")  # up to date: no rebuild
    assert again.returncode == 0 and "Up to date" in again.stderr
    assert again.stdout.strip() == sandbox_image
