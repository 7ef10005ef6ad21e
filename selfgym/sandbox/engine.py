"""Connecting to the Docker engine, with one clear error when that is impossible.

A Docker client is bound to the process that made it. Its connections are sockets, and a forked child
(``AsyncVectorEnv`` and ``multiprocessing`` workers with the ``fork`` start method) inherits them: two processes
writing requests to one socket read each other's responses (``ReadTimeout``, ``ConnectionResetError``, an HTTP
status line holding another response's body). So :func:`docker_client` hands a forked child a client of its
own, and a client used in a process other than the one that made it refuses with
:class:`ForeignProcessError` before sending anything. Everything built on a client (a
:class:`~selfgym.sandbox.SandboxPool`, its sandboxes) is owned by the process that made it in the same way.
"""

from __future__ import annotations

import os
import threading

import docker
import docker.errors
import requests

from .errors import SandboxError, translate


class ForeignProcessError(SandboxError):
    """A Docker client, or a sandbox pool built on one, was used by a process other than the one that made it.

    Raised in a forked child that uses a client or pool its parent made: their sockets are the parent's.
    """


def foreign_process_error(what: str, owner_pid: int) -> ForeignProcessError:
    return ForeignProcessError(
        f"This {what} was made by process {owner_pid} and cannot be used in process {os.getpid()} (a forked "
        "child, e.g. an AsyncVectorEnv or multiprocessing worker): its connections to Docker and its sandboxes "
        "belong to the parent. Make it in the process that uses it: env factories that build their own envs "
        "(no pool=), or a SandboxPool created inside the worker; to share one pool between envs, use "
        "SyncVectorEnv or threads."
    )


class _ProcessBoundAPIClient(docker.APIClient):
    """The Docker SDK's low-level client, refusing to send a request from any process but its creator's."""

    def __init__(self, *args, **kwargs) -> None:
        self.owner_pid = os.getpid()  # before the SDK's own first request (it asks the engine for its version)
        super().__init__(*args, **kwargs)

    def send(self, request, **kwargs):
        if os.getpid() != self.owner_pid:
            raise foreign_process_error("Docker client", self.owner_pid)
        return super().send(request, **kwargs)


class ProcessBoundClient(docker.DockerClient):
    """A :class:`docker.DockerClient` usable only in the process that made it (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:  # the SDK's constructor, with our low-level client
        self.api = _ProcessBoundAPIClient(*args, **kwargs)

    @property
    def owner_pid(self) -> int:
        return self.api.owner_pid


def owner_pid(client: docker.DockerClient) -> int | None:
    """The process that made ``client`` (None for a client not made by :func:`docker_client`)."""
    return getattr(client.api, "owner_pid", None)


def check_owner(client: docker.DockerClient, what: str = "Docker client") -> None:
    """Raise :class:`ForeignProcessError` if this process did not make ``client`` (the thing using it is
    ``what``, for the message)."""
    pid = owner_pid(client)
    if pid is not None and pid != os.getpid():
        raise foreign_process_error(what, pid)


_lock = threading.Lock()
_shared: docker.DockerClient | None = None


def _forget_in_child() -> None:
    # Neither the parent's client (its sockets) nor the lock (another thread may have held it at the fork, and
    # it would stay locked here for ever) is any use in the child. Not closed: that would shut the parent's
    # connections down.
    global _lock, _shared
    _lock = threading.Lock()
    _shared = None


os.register_at_fork(after_in_child=_forget_in_child)


def docker_client(*, fresh: bool = False, timeout_s: int = 120) -> docker.DockerClient:
    """A pinged client for the engine named by ``DOCKER_HOST`` (default: the local socket).

    The client is shared by default (one connection pool per process; a forked child gets its own);
    ``fresh=True`` makes a new one. Either is usable only in the process that made it.
    Raises :class:`~selfgym.sandbox.errors.DockerUnavailableError` or ``DockerPermissionError`` with the fix.
    """
    global _shared
    with _lock:
        if _shared is not None and not fresh and owner_pid(_shared) == os.getpid():
            return _shared
        try:
            client = ProcessBoundClient.from_env(timeout=timeout_s)
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise translate(exc) from None
        if not fresh:
            _shared = client
        return client
