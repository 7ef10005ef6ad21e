"""Errors of the sandbox layer, each saying what is wrong and the command that fixes it.

The Docker SDK raises transport errors (``requests`` exceptions wrapped in ``DockerException``) whose text is a
stack of nested reprs; :func:`translate` turns them into one of these, and callers raise it ``from None`` so a
user sees one sentence, not the SDK's internals.
"""

from __future__ import annotations

import os
import re


class SandboxError(RuntimeError):
    """Base class of every selfgym sandbox error."""


class DockerUnavailableError(SandboxError):
    """No Docker engine answers at the configured address."""


class DockerPermissionError(SandboxError):
    """The engine's socket exists but this user may not use it."""


class ImageNotFoundError(SandboxError):
    """A sandbox image is not built (or not present) on this engine."""


class DockerDiskFullError(SandboxError):
    """The engine ran out of disk space while creating, building or writing."""


class SandboxStartError(SandboxError):
    """A container was created but its executor did not come up."""


class SandboxLostError(SandboxError):
    """A running sandbox stopped answering (its container died or was removed)."""


class SandboxKilledAtStartError(SandboxStartError, SandboxLostError):
    """A container was killed from outside (``docker kill``, the engine) while its executor started: a loss, not
    a problem of the image; a pool starts another."""


class InfrastructureError(SandboxError):
    """An episode could not be played to its end for a reason outside the agent's control.

    Raised by an env's ``reset``/``step`` when its sandbox was lost to something the agent's code did not cause
    (the engine, the host, ``docker kill``) more times than the env replays an attempt. Such an episode is an
    *error*, not the agent's failure: evaluations report it apart from the success rate, and experiments replay it
    instead of showing it to the curriculum. What the agent causes (its timeout, OOM, pids limit) never raises
    this: it is the attempt's result.
    """


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


class DockerInsecureError(SandboxError):
    """A Docker engine named by a network address that would be reached without verified TLS."""


def unavailable(detail: str = "", host: str | None = None) -> DockerUnavailableError:
    return DockerUnavailableError(
        f"No Docker engine is reachable at {host or docker_host()}{f' ({detail})' if detail else ''}. "
        "Start one: `sudo dockerd > /tmp/dockerd.log 2>&1 &` or `sudo systemctl start docker`; "
        "`make setup` installs and starts it on Debian when run as root. "
        "Set DOCKER_HOST if your engine listens elsewhere."
    )


def permission_denied(host: str | None = None) -> DockerPermissionError:
    return DockerPermissionError(
        f"Permission denied on the Docker socket {host or docker_host()}. Run as root, or add your user to the "
        "docker group: `sudo usermod -aG docker $USER`, then log in again."
    )


def image_missing(image: str) -> ImageNotFoundError:
    name = image.split("/", 1)[1].split(":", 1)[0] if image.startswith("selfgym/") else ""
    command = f"selfgym sandbox build {name}" if name else "selfgym sandbox build"
    return ImageNotFoundError(
        f"Sandbox image {image!r} is not on this Docker engine. Build it with `{command}` "
        "(works offline; `make setup` does it too)."
    )


def disk_full(detail: str) -> DockerDiskFullError:
    return DockerDiskFullError(
        f"The Docker engine is out of disk space ({detail.strip()[:200]}). Free some with "
        "`selfgym sandbox reap --all && docker system prune -f`, or give Docker's data-root more room."
    )


def translate(exc: BaseException, *, image: str | None = None, host: str | None = None) -> SandboxError:
    """Map an exception from the Docker SDK to the matching :class:`SandboxError` (``host``: the engine's
    address, when it is not ``DOCKER_HOST``)."""
    import docker.errors

    if isinstance(exc, SandboxError):
        return exc
    text = str(exc)
    lowered = text.lower()
    if "no space left on device" in lowered:
        return disk_full(text)
    if isinstance(exc, docker.errors.ImageNotFound) or (
        image and isinstance(exc, docker.errors.NotFound) and "image" in lowered
    ):
        return image_missing(image or "?")
    if isinstance(exc, PermissionError) or "permission denied" in lowered:
        return permission_denied(host)
    if "unknown runtime" in lowered:
        named = re.search(r"unknown runtime specified:?\s*([\w.-]+)", text, re.IGNORECASE)
        runtime = named.group(1) if named else "?"
        return SandboxError(
            f"The Docker engine has no runtime {runtime!r} (Limits.runtime). Install it and register it in "
            "/etc/docker/daemon.json (gVisor: `runsc install`, then restart dockerd), or leave Limits.runtime unset."
        )
    transport = (
        "error while fetching server api version", "connection refused", "connection aborted",
        "no such file or directory", "failed to establish a new connection", "read timed out",
    )
    if isinstance(exc, (ConnectionError, FileNotFoundError)) or any(t in lowered for t in transport):
        return unavailable(type(exc).__name__, host)
    return SandboxError(f"The Docker engine refused the request: {text.strip()[:500]}")
