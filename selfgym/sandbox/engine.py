"""Connecting to the Docker engine, with one clear error when that is impossible."""

from __future__ import annotations

import threading

import docker
import docker.errors
import requests

from .errors import translate

_lock = threading.Lock()
_shared: docker.DockerClient | None = None


def docker_client(*, fresh: bool = False, timeout_s: int = 120) -> docker.DockerClient:
    """A pinged client for the engine named by ``DOCKER_HOST`` (default: the local socket).

    The client is shared by default (one connection pool per process); ``fresh=True`` makes a new one.
    Raises :class:`~selfgym.sandbox.errors.DockerUnavailableError` or ``DockerPermissionError`` with the fix.
    """
    global _shared
    with _lock:
        if _shared is not None and not fresh:
            return _shared
        try:
            client = docker.from_env(timeout=timeout_s)
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise translate(exc) from None
        if not fresh:
            _shared = client
        return client
