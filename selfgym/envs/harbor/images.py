"""Images for Harbor tasks that bring their own environment: the task's image, then selfgym's layer on top.

The task's image is built from its Dockerfile (or is its ``docker_image``) exactly as written. Offline, a base
image that is neither on this machine nor pullable is an error naming it; ``base_images={"ubuntu:24.04":
"my/local:tag"}`` declares a stand-in (it changes the task's environment: the caller's decision, never ours).

selfgym's layer adds what a sandbox needs and changes nothing the task relies on: Harbor's paths (``/tests``,
``/logs/...``, ``/solution``) become links into ``/tmp`` where the verifier makes its private folders
(:mod:`.layout`), the working directory is handed to the agent's uid (selfgym never runs the agent as root), and
what the image keeps in ``/work`` or ``/tests`` (which selfgym mounts over or links away) is saved to be put back.
The image needs ``python3`` (>= 3.8): the sandbox's executor runs on it.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from ...sandbox import SandboxError
from ...sandbox.errors import translate
from ...sandbox.images import image_exists
from ...sandbox.sandbox import AGENT_UID
from ...sandbox.sdk import docker, requests  # loaded on first use: not with the env
from .layout import LAYOUT_COMMAND, SEED_DIR

TASK_REPOSITORY = "selfgym/harbor-task"
LAYER_REPOSITORY = "selfgym/harbor-run"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<image>\S+)(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE)
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class TaskImageError(SandboxError):
    """A task's environment image cannot be had: its base is missing offline, or its build failed."""


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _available(client: docker.DockerClient, image: str) -> bool:
    """On this engine, or pulled now (offline the pull fails fast and we say so)."""
    if image_exists(client, image):
        return True
    repository, _, tag = image.partition(":")
    if "@" in image:
        repository, tag = image, None
    try:
        client.images.pull(repository, tag=tag or None)
        return True
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False


def _missing_base(image: str, where: str) -> TaskImageError:
    return TaskImageError(
        f"{where} needs the image {image!r}, which is not on this Docker engine and cannot be pulled (offline?). "
        f"Pull or `docker load` it here, or declare a stand-in: base_images={{{image!r}: '<a local image>'}} "
        "(that changes the task's environment: only use one that has what the task needs)."
    )


def base_images_of(dockerfile: str) -> list[str]:
    """The images a Dockerfile builds from (not its own stages, not ``scratch``, not ``$ARG`` forms)."""
    stages: set[str] = set()
    bases = []
    for line in dockerfile.splitlines():
        match = _FROM.match(line)
        if not match:
            continue
        image = match.group("image")
        if image.lower() != "scratch" and "$" not in image and image not in stages:
            bases.append(image)
        if match.group("stage"):
            stages.add(match.group("stage"))
    return bases


def _with_bases(dockerfile: str, base_images: Mapping[str, str]) -> str:
    def swap(match: re.Match[str]) -> str:
        image = match.group("image")
        return match.group(0).replace(image, base_images[image], 1) if image in base_images else match.group(0)

    return "\n".join(_FROM.sub(swap, line) for line in dockerfile.splitlines()) + "\n"


def context_digest(context: Path, extra: str = "") -> str:
    """sha256 over a build context's files (relative path, mode and bytes), and ``extra``; 12 hex digits."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0")
        digest.update(oct(path.stat().st_mode & 0o777).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _build(client: docker.DockerClient, *, tag: str, timeout_s: float, where: str, **kwargs) -> None:
    deadline = time.monotonic() + timeout_s
    log: list[str] = []
    stream = client.api.build(tag=tag, rm=True, forcerm=True, decode=True, pull=False, **kwargs)
    try:
        for chunk in stream:
            if "error" in chunk:
                raise TaskImageError(f"building {where} failed: {chunk['error'].strip()}\n" + "".join(log[-15:]))
            if chunk.get("stream", "").strip():
                log.append(chunk["stream"])
            if time.monotonic() > deadline:
                raise TaskImageError(f"building {where} took longer than its build_timeout_sec ({timeout_s:g} s)")
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise translate(exc) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def task_image(client: docker.DockerClient, *, context: str | None, docker_image: str | None,
               base_images: Mapping[str, str], timeout_s: float, where: str) -> str:
    """The task's own image: ``docker_image`` (present or pulled), or built from ``context``'s Dockerfile."""
    if docker_image is not None:
        image = base_images.get(docker_image, docker_image)
        if not _available(client, image):
            raise _missing_base(image, where)
        return image
    assert context is not None
    folder = Path(context)
    dockerfile = (folder / "Dockerfile").read_text(encoding="utf-8")
    overrides = {base: base_images[base] for base in base_images_of(dockerfile) if base in base_images}
    tag = f"{TASK_REPOSITORY}:{context_digest(folder, repr(sorted(overrides.items())))}"
    with _lock(tag):
        if image_exists(client, tag):
            return tag
        rewritten = _with_bases(dockerfile, overrides)
        for base in base_images_of(rewritten):
            if not _available(client, base):
                raise _missing_base(base, where)
        with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile", encoding="utf-8") as file:
            file.write(rewritten)
            file.flush()
            _build(client, tag=tag, timeout_s=timeout_s, where=where, path=str(folder), dockerfile=file.name,
                   labels={"selfgym.harbor": "task"})
    return tag


def runnable_image(client: docker.DockerClient, image: str, *, workdir: str | None, where: str) -> tuple[str, str]:
    """``image`` with selfgym's layer on top (see the module's docstring), built once per image and working
    directory; returns its tag and the working directory (``workdir``, else the image's, else ``/work``)."""
    try:
        inspected = client.api.inspect_image(image)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise translate(exc, image=image) from None
    workdir = workdir or inspected.get("Config", {}).get("WorkingDir") or ""
    dockerfile = layer_dockerfile(inspected["Id"], workdir)
    tag = f"{LAYER_REPOSITORY}:{hashlib.sha256(dockerfile.encode()).hexdigest()[:12]}"
    with _lock(tag):
        if not image_exists(client, tag):
            _build(client, tag=tag, timeout_s=300, where=f"selfgym's layer over {where}",
                   fileobj=io.BytesIO(dockerfile.encode()), labels={"selfgym.harbor": "layer"})
    return tag, workdir if workdir not in ("", "/") else "/work"


def layer_dockerfile(image_id: str, workdir: str) -> str:
    """The Dockerfile of selfgym's layer over the image ``image_id`` whose working directory is ``workdir``."""
    quoted = workdir.replace("'", "")
    return f"""FROM {image_id}
USER root
RUN set -e; \\
    python3 -c 'import sys; assert sys.version_info >= (3, 8)' 2>/dev/null \\
      || {{ echo "selfgym: this image has no python3 >= 3.8, which selfgym's sandbox executor runs on" >&2; exit 1; }}; \\
    mkdir -p {SEED_DIR}; \\
    if [ -e /tests ]; then mkdir -p {SEED_DIR}/tests && cp -a /tests/. {SEED_DIR}/tests/ && rm -rf /tests; fi; \\
    if [ -d /work ] && [ -n "$(ls -A /work)" ]; then cp -a /work {SEED_DIR}/work; fi; \\
    rm -rf /solution /logs/agent /logs/verifier /logs/artifacts; \\
    {LAYOUT_COMMAND}; \\
    w='{quoted}'; case "$w" in ''|/|/work|/work/*|/tmp|/tmp/*) ;; *) mkdir -p "$w" && chown -R {AGENT_UID}:{AGENT_UID} "$w";; esac
"""
