"""Sandbox images: built from ``docker/*.Dockerfile``, tagged by a hash of their build context, built once.

A Dockerfile takes a ``BASE_IMAGE`` build argument whose default is the public image a user would pull
(``python:3.11-slim``). Where no registry can be reached (air-gapped clusters, CI without Docker Hub), the base is
made locally instead: ``debootstrap`` writes a minimal Debian into a folder, and ``docker import`` turns it into
an image (it needs root and the ``debootstrap`` program, both standard on Debian).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from .errors import SandboxError, image_missing, translate
from .sdk import docker, requests

DEFAULT_BASE_IMAGE = "python:3.11-slim"
LABEL_CONTEXT_HASH = "selfgym.image.context"
LABEL_BASE = "selfgym.image.base"


@dataclass(frozen=True)
class OfflineBase:
    """A minimal Debian made with debootstrap, standing in for a base image that cannot be pulled."""

    suite: str = "bookworm"
    # What python:3.11-slim plus our Dockerfile's installs provide, as Debian packages.
    packages: tuple[str, ...] = (
        "python3", "python3-numpy", "python3-sympy", "python3-pytest",
        "git", "procps", "zip", "unzip", "xz-utils", "bzip2", "file", "bc", "jq",
    )

    @property
    def tag(self) -> str:
        digest = hashlib.sha256(f"{self.suite}|{','.join(sorted(self.packages))}".encode()).hexdigest()[:12]
        return f"selfgym/base:{self.suite}-{digest}"


# The offline base of each image: what its Dockerfile would otherwise install on top of the public base, as Debian
# packages, so that the offline build needs no network at all. Images not listed use ``OfflineBase()``.
OFFLINE_BASES: dict[str, OfflineBase] = {
    "python": OfflineBase(),
    # The web sandbox (docker/web.Dockerfile): the sites' Flask and a headless Chromium, plus socat (the CDP
    # tunnel's end inside the container), ps for leak checks, and one font family so that screenshots show text.
    # debootstrap does not resolve virtual packages: dbus-x11 provides the dbus-session-bus that chromium's
    # dconf-service needs.
    "web": OfflineBase(packages=("python3", "python3-flask", "chromium", "dbus-x11", "socat", "procps",
                                 "fonts-dejavu-core")),
}


def docker_dir() -> Path:
    """The folder with our Dockerfiles (``docker/`` at the repository root; ``SELFGYM_DOCKER_DIR`` overrides)."""
    override = os.environ.get("SELFGYM_DOCKER_DIR")
    candidates = [Path(override)] if override else []
    candidates += [Path(__file__).resolve().parents[2] / "docker", Path(__file__).resolve().parent / "docker"]
    for candidate in candidates:
        if (candidate / "python.Dockerfile").is_file():
            return candidate
    raise SandboxError(
        f"Cannot find the sandbox Dockerfiles (looked in {', '.join(map(str, candidates))}). "
        "Install selfgym from its source tree (`pip install -e .`) or set SELFGYM_DOCKER_DIR."
    )


def context_files(name: str) -> list[Path]:
    """The files an image's build depends on: its Dockerfile and its own folder ``docker/<name>/`` if any."""
    root = docker_dir()
    files = [root / f"{name}.Dockerfile"]
    if not files[0].is_file():
        raise SandboxError(f"No Dockerfile for image {name!r}: expected {files[0]}")
    own = root / name
    if own.is_dir():
        files += sorted(p for p in own.rglob("*") if p.is_file())
    return files


def context_hash(name: str) -> str:
    """sha256 over the image's context files (relative path and bytes), first 12 hex digits."""
    root = docker_dir()
    digest = hashlib.sha256()
    for path in context_files(name):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tag(name: str = "python") -> str:
    """The tag the current sources of image ``name`` build to, e.g. ``selfgym/python:3f2a9c0d1e4b``."""
    return f"selfgym/{name}:{context_hash(name)}"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise translate(exc) from None


def default_image(client: docker.DockerClient, name: str = "python") -> str:
    """The tag of image ``name`` for the current sources; a clear error if it is not built yet."""
    tag = image_tag(name)
    if not image_exists(client, tag):
        raise image_missing(tag)
    return tag


def _try_pull(client: docker.DockerClient, image: str, console: Console) -> bool:
    repository, _, tag = image.partition(":")
    with console.status(f"Pulling {image} ..."):
        try:
            client.images.pull(repository, tag=tag or "latest")
            return True
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            console.print(f"[yellow]Cannot pull {image}[/] ({str(exc).strip()[:120]}); using an offline base.")
            return False


def build_offline_base(client: docker.DockerClient, base: OfflineBase, console: Console, *,
                       mirror: str | None = None) -> str:
    """Make ``base`` with debootstrap + docker import (root only); returns its tag. Takes about a minute."""
    if image_exists(client, base.tag):
        return base.tag
    if os.geteuid() != 0:
        raise SandboxError(
            f"No base image can be pulled, and building one offline (debootstrap) needs root. Run "
            f"`sudo selfgym sandbox build`, or pull {DEFAULT_BASE_IMAGE} on a machine with a registry and "
            "`docker save | docker load` it here."
        )
    if shutil.which("debootstrap") is None:
        raise SandboxError("No base image can be pulled and `debootstrap` is missing: `apt-get install -y debootstrap`.")
    mirror = mirror or os.environ.get("SELFGYM_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(prefix="selfgym-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(base.packages)}", base.suite,
               str(rootfs), mirror]
        with console.status(f"debootstrap {base.suite} ({len(base.packages)} packages) ...") as status:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            tail: list[str] = []
            for line in proc.stdout:
                tail = (tail + [line.rstrip()])[-20:]
                status.update(f"debootstrap: {line.strip()[:100]}")
            if proc.wait() != 0:
                raise SandboxError(f"debootstrap failed (exit {proc.returncode}):\n" + "\n".join(tail))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                     "usr/share/locale"):
            target = rootfs / junk
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        with console.status(f"docker import -> {base.tag} ..."):
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            try:
                client.api.import_image_from_stream(
                    tar.stdout, repository=base.tag.split(":")[0], tag=base.tag.split(":")[1],
                    changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "ENV LANG=C.UTF-8", 'CMD ["python3"]'],
                )
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise translate(exc) from None
            finally:
                tar.stdout.close()
                tar.wait()
    console.print(f"[green]Built offline base[/] {base.tag}")
    return base.tag


def resolve_base(client: docker.DockerClient, console: Console, *, base_image: str | None = None,
                 offline: bool = False, name: str = "python") -> str:
    """Pick the base: an explicit one; else the public default if present or pullable; else an offline build
    (with the Debian packages image ``name`` needs, see :data:`OFFLINE_BASES`)."""
    requested = base_image or os.environ.get("SELFGYM_BASE_IMAGE")
    if requested:
        if image_exists(client, requested) or _try_pull(client, requested, console):
            return requested
        raise image_missing(requested)
    if not offline and (image_exists(client, DEFAULT_BASE_IMAGE) or _try_pull(client, DEFAULT_BASE_IMAGE, console)):
        return DEFAULT_BASE_IMAGE
    return build_offline_base(client, OFFLINE_BASES.get(name, OfflineBase()), console)


def build_image(client: docker.DockerClient, name: str = "python", *, base_image: str | None = None,
                offline: bool = False, force: bool = False, console: Console | None = None) -> str:
    """Build image ``name`` unless its content-hash tag exists; returns the tag. Shows progress on ``console``."""
    console = console or Console(stderr=True)
    tag = image_tag(name)
    if not force and image_exists(client, tag):
        console.print(f"[green]Up to date[/] {tag}")
        return tag
    base = resolve_base(client, console, base_image=base_image, offline=offline, name=name)
    log: list[str] = []
    with console.status(f"Building {tag} on {base} ...") as status:
        try:
            for chunk in client.api.build(
                path=str(docker_dir()), dockerfile=f"{name}.Dockerfile", tag=tag, buildargs={"BASE_IMAGE": base},
                labels={LABEL_CONTEXT_HASH: tag.split(":")[1], LABEL_BASE: base}, rm=True, forcerm=True,
                decode=True, pull=False,
            ):
                if "error" in chunk:
                    raise SandboxError(f"Building {tag} failed: {chunk['error'].strip()}\n" + "".join(log[-20:]))
                line = chunk.get("stream", "")
                if line.strip():
                    log.append(line)
                    status.update(f"Building {tag}: {line.strip()[:100]}")
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise translate(exc) from None
    console.print(f"[green]Built[/] {tag} (base {base})")
    return tag
