"""Connecting to a Docker engine, with one clear error when that is impossible.

Any engine the Docker SDK reaches will do: the local socket (the default), ``unix:///other.sock``,
``tcp://`` with TLS, or ``ssh://user@host`` (through the system's ``ssh``: its config, keys and agent apply).
The engine's API is root on its machine, so an engine on the network is reached only with verified TLS (the
engine checked against a CA, this client authenticated by its certificate): plain ``tcp://`` is refused unless
the address is this machine's loopback, where no other machine can reach it (set ``SELFGYM_DOCKER_INSECURE=1``
to overrule, at your own risk).

A Docker client is bound to the process that made it. Its connections are sockets, and a forked child
(``AsyncVectorEnv`` and ``multiprocessing`` workers with the ``fork`` start method) inherits them: two processes
writing requests to one socket read each other's responses (``ReadTimeout``, ``ConnectionResetError``, an HTTP
status line holding another response's body). So :func:`docker_client` hands a forked child a client of its
own, and a client used in a process other than the one that made it refuses with
:class:`ForeignProcessError` before sending anything. Everything built on a client (a
:class:`~selfgym.sandbox.SandboxPool`, its sandboxes) is owned by the process that made it in the same way.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from urllib.parse import urlsplit

import docker
import docker.errors
import requests

from .errors import DockerInsecureError, SandboxError, translate


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

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str):
            # a TLS engine is checked against its own CA (ca.pem); requests would let REQUESTS_CA_BUNDLE or
            # CURL_CA_BUNDLE swap in the system's bundle, which trusts any public certificate instead
            settings["verify"] = self.verify
        return settings


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
_shared: dict[tuple, docker.DockerClient] = {}  # by engine: address and TLS settings

DEFAULT_HOST = "unix:///var/run/docker.sock"
INSECURE_VARIABLE = "SELFGYM_DOCKER_INSECURE"


def _forget_in_child() -> None:
    # Neither the parent's clients (their sockets) nor the lock (another thread may have held it at the fork,
    # and it would stay locked here for ever) is any use in the child. Not closed: that would shut the
    # parent's connections down.
    global _lock, _shared
    _lock = threading.Lock()
    _shared = {}


os.register_at_fork(after_in_child=_forget_in_child)


def engine_environment(host: str | None = None, cert_path: str | None = None) -> dict[str, str]:
    """The ``DOCKER_*`` settings that name an engine, as the Docker SDK reads them: this process's
    environment, with ``host`` for ``DOCKER_HOST`` and, with ``cert_path``, verified TLS with that folder's
    certificates."""
    environment = {key: value for key, value in os.environ.items() if key.startswith("DOCKER_")}
    if host is not None:
        environment["DOCKER_HOST"] = host
    if cert_path is not None:
        environment.update(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=os.path.expanduser(cert_path))
    if host is not None and cert_path is None:  # an engine named here does not borrow another's TLS settings
        environment.pop("DOCKER_TLS_VERIFY", None)
        environment.pop("DOCKER_CERT_PATH", None)
    return environment


def check_transport(environment: dict[str, str]) -> None:
    """Refuse (:class:`DockerInsecureError`) an engine on the network reached without verified TLS: whoever
    can reach its port (another machine, or a sandbox given a network) would be root on its machine."""
    address = environment.get("DOCKER_HOST") or DEFAULT_HOST
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "http", "https"):
        return  # a unix socket (file permissions guard it) or ssh (ssh guards it)
    verified = parts.scheme != "http" and environment.get("DOCKER_TLS_VERIFY", "") not in ("", "0") \
        and bool(environment.get("DOCKER_CERT_PATH"))
    if verified or _is_loopback(parts.hostname or "") or os.environ.get(INSECURE_VARIABLE) == "1":
        return
    raise DockerInsecureError(
        f"The Docker engine at {address} would be reached without verified TLS: anyone who can reach that "
        "port (another machine, or a sandbox given a network) could run anything as root on its machine. Use "
        "TLS (`DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=DIR` with ca.pem, cert.pem and key.pem, or "
        "executor.docker_cert_path) or ssh://user@host; or, if the port is only reachable from trusted "
        f"machines, set {INSECURE_VARIABLE}=1.")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def docker_client(*, host: str | None = None, cert_path: str | None = None, fresh: bool = False,
                  timeout_s: int = 120) -> docker.DockerClient:
    """A pinged client for a Docker engine: ``host`` (``unix:///var/run/docker.sock``, ``tcp://host:2376``,
    ``ssh://user@host``) or else ``DOCKER_HOST`` (default: the local socket). ``cert_path``: a folder with
    ``ca.pem``, ``cert.pem`` and ``key.pem``, for verified TLS to a ``tcp://`` engine (else
    ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``, as the docker CLI reads them). An engine on the network
    without verified TLS is refused (:func:`check_transport`).

    The client is shared by default (one connection pool per engine and process; a forked child gets its own);
    ``fresh=True`` makes a new one. Either is usable only in the process that made it.
    Raises :class:`~selfgym.sandbox.errors.DockerUnavailableError` or ``DockerPermissionError`` with the fix.
    """
    environment = engine_environment(host, cert_path)
    check_transport(environment)
    address = environment.get("DOCKER_HOST") or DEFAULT_HOST
    key = (address, environment.get("DOCKER_TLS_VERIFY"), environment.get("DOCKER_CERT_PATH"))
    with _lock:
        shared = _shared.get(key)
        if shared is not None and not fresh and owner_pid(shared) == os.getpid():
            return shared
        try:
            # ssh:// through the system's ssh client (its config and agent), not paramiko
            client = ProcessBoundClient.from_env(environment=environment, timeout=timeout_s,
                                                 use_ssh_client=address.startswith("ssh://"))
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise translate(exc, host=address) from None
        if not fresh:
            _shared[key] = client
        return client
