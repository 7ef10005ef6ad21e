"""One running sandbox container and the channel to the executor inside it."""

from __future__ import annotations

import base64
import itertools
import json
import shlex
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from importlib import resources

import docker
import docker.errors
import requests

from .engine import docker_client
from .errors import SandboxError, SandboxLostError, SandboxStartError, image_missing, translate
from .images import default_image
from .limits import ExecResult, Limits
from .reaper import owner_labels

_EXECUTOR_SOURCE = resources.files("selfgym.sandbox").joinpath("executor.py").read_bytes()
# The container's command reads the executor's source from stdin (exactly N bytes, unbuffered, so the first
# request is not swallowed) and runs it: images need only python3, and `docker ps` shows a short command.
_BOOTSTRAP = (
    "import os,sys\nn=int(sys.argv[1]);b=b''\n"
    "while len(b)<n:\n c=os.read(0,n-len(b))\n if not c:sys.exit(0)\n b+=c\n"
    "exec(compile(b,'selfgym-executor','exec'))"
)
_HEADER = struct.Struct(">I")
_DOCKER_FRAME = struct.Struct(">BxxxI")  # multiplexed attach stream: stream id, 3 pad bytes, payload length
_HOST_GRACE_S = 15.0  # past a command's own timeout, the executor's kill and drain; then we declare it lost
WORK_DIR = "/work"
SANDBOX_UID = 1000


def container_spec(api: docker.APIClient, image: str, limits: Limits, command: list[str],
                   labels: Mapping[str, str], *, stdin_open: bool = False, auto_remove: bool = True) -> dict:
    """Keyword arguments of ``APIClient.create_container`` for a sandbox container running ``command``.

    Every container selfgym starts gets these settings: no network (unless ``limits.network``), memory without
    swap, CPU quota, pids limit, read-only root, size-limited tmpfs ``/work`` and ``/tmp``, uid 1000, no
    capabilities, ``no-new-privileges``, private IPC, no core dumps.
    """
    # uid/gid, not mode: Docker copies the image directory's mode over a tmpfs mounted on it
    tmpfs_opts = f"rw,nosuid,nodev,exec,size={limits.disk_mb}m,mode=1777,uid={SANDBOX_UID},gid={SANDBOX_UID}"
    host_config = api.create_host_config(
        network_mode="bridge" if limits.network else "none",
        mem_limit=f"{limits.memory_mb}m",
        memswap_limit=f"{limits.memory_mb}m",  # equal to mem_limit: no swap
        nano_cpus=int(limits.cpus * 1e9),
        pids_limit=limits.pids,
        read_only=limits.read_only_root,
        tmpfs={WORK_DIR: tmpfs_opts, "/tmp": tmpfs_opts},
        shm_size="16m",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        ipc_mode="private",
        auto_remove=auto_remove,
        ulimits=[
            docker.types.Ulimit(name="nofile", soft=4096, hard=4096),
            docker.types.Ulimit(name="core", soft=0, hard=0),
        ],
    )
    return dict(
        image=image,
        command=command,
        user=f"{SANDBOX_UID}:{SANDBOX_UID}",
        working_dir=WORK_DIR,
        environment={"HOME": WORK_DIR, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"},
        labels=dict(labels),
        stdin_open=stdin_open,
        tty=False,
        hostname="sandbox",
        network_disabled=not limits.network,
        host_config=host_config,
    )


class _Channel:
    """Length-prefixed JSON over the container's attached stdin/stdout."""

    def __init__(self, sock) -> None:
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._keepalive = sock  # holds the HTTP response that owns the socket
        self._docker_buf = bytearray()  # raw multiplexed bytes
        self._stdout = bytearray()  # demultiplexed stdout of the executor

    def send(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        self._sock.sendall(_HEADER.pack(len(body)) + body)

    def send_raw(self, data: bytes) -> None:
        self._sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._sock.settimeout(remaining)
        chunk = self._sock.recv(1 << 20)
        if not chunk:
            raise EOFError
        self._docker_buf += chunk
        while len(self._docker_buf) >= _DOCKER_FRAME.size:
            stream, length = _DOCKER_FRAME.unpack_from(self._docker_buf)
            end = _DOCKER_FRAME.size + length
            if len(self._docker_buf) < end:
                break
            if stream == 1:
                self._stdout += self._docker_buf[_DOCKER_FRAME.size : end]
            del self._docker_buf[:end]

    def receive(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while len(self._stdout) < _HEADER.size:
            self._fill(deadline)
        (length,) = _HEADER.unpack_from(self._stdout)
        while len(self._stdout) < _HEADER.size + length:
            self._fill(deadline)
        body = bytes(self._stdout[_HEADER.size : _HEADER.size + length])
        del self._stdout[: _HEADER.size + length]
        return json.loads(body)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


class Sandbox:
    """One running container with a resident executor, ready to run commands.

    Containers have no network (unless ``limits.network``), a read-only root, writable tmpfs at ``/work`` (the
    working directory) and ``/tmp``, run as uid 1000 with every capability dropped and ``no-new-privileges``.
    A sandbox is not thread-safe for concurrent commands: calls are serialised by a lock.

    Example::

        with Sandbox() as sb:
            sb.write_files({"main.py": "print(6 * 7)"})
            result = sb.run("python3 main.py", timeout_s=5)
            assert result.stdout == "42\\n"
    """

    def __init__(
        self,
        image: str | None = None,
        limits: Limits | None = None,
        *,
        client: docker.DockerClient | None = None,
        labels: Mapping[str, str] | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.limits = limits or Limits()
        self.client = client or docker_client()
        self.image = image or default_image(self.client)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._alive = False
        self._channel: _Channel | None = None
        self.container_id = self._create(dict(owner_labels(), **(labels or {})))
        try:
            self._channel = _Channel(
                self.client.api.attach_socket(self.container_id, params={"stdin": 1, "stdout": 1, "stream": 1})
            )
            self.client.api.start(self.container_id)
            self._channel.send_raw(_EXECUTOR_SOURCE)
            hello = self._channel.receive(start_timeout_s)
        except Exception as exc:
            logs = self._logs()
            self.close()
            if isinstance(exc, docker.errors.DockerException):
                raise translate(exc, image=self.image) from None
            raise SandboxStartError(
                f"The sandbox executor in image {self.image!r} did not start ({type(exc).__name__}). "
                f"The image needs python3 >= 3.8 on PATH. Container output: {logs or '(none)'}"
            ) from None
        if not hello.get("ready"):
            self.close()
            raise SandboxStartError(f"Unexpected greeting from the sandbox executor: {hello!r}")
        self._alive = True

    def _create(self, labels: dict[str, str]) -> str:
        command = ["python3", "-I", "-c", _BOOTSTRAP, str(len(_EXECUTOR_SOURCE))]
        # stdin_open with an attach (not detach) makes the SDK set StdinOnce: when our socket closes, the
        # executor reads EOF and exits, so a crashed host process leaves no running container
        spec = container_spec(self.client.api, self.image, self.limits, command, labels, stdin_open=True)
        try:
            created = self.client.api.create_container(**spec)
        except docker.errors.ImageNotFound:
            raise image_missing(self.image) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise translate(exc, image=self.image) from None
        return created["Id"]

    # -- the executor protocol ---------------------------------------------------------------------------------

    def _call(self, request: dict, timeout_s: float) -> dict:
        with self._lock:
            if not self._alive or self._channel is None:
                raise SandboxLostError(f"Sandbox {self.short_id} is closed or lost; use a new one.")
            request["id"] = next(self._ids)
            try:
                self._channel.send(request)
                reply = self._channel.receive(timeout_s)
            except (OSError, EOFError, TimeoutError, ValueError) as exc:
                self._alive = False
                reason = "stopped answering" if isinstance(exc, (TimeoutError, socket.timeout)) else "died"
                self._kill()
                raise SandboxLostError(f"Sandbox {self.short_id} {reason} during {request['op']!r}.") from None
        if reply.get("id") != request["id"]:
            self._alive = False
            raise SandboxLostError(f"Sandbox {self.short_id} answered out of turn: {reply!r}")
        return reply

    def run(
        self,
        cmd: str | Sequence[str],
        *,
        stdin: str | bytes | None = None,
        timeout_s: float | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        keep_background: bool = False,
    ) -> ExecResult:
        """Run ``cmd`` (a bash command line, or an argv list run without a shell) and wait for it.

        ``timeout_s`` defaults to ``limits.timeout_s``; past it the whole process tree is killed. Processes the
        command left in the background are killed when it ends, unless ``keep_background`` (an interactive
        shell's jobs); after a timeout or when the pids limit was hit, every process is killed regardless.

        Never raises for anything the command does: a timeout, OOM kill, full disk or huge output is reported in
        the :class:`ExecResult`. If the container itself dies (it should not), the result has exit code 137 and
        this sandbox is marked dead (:attr:`alive` is False) so a pool replaces it.
        """
        argv = ["/bin/bash", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        if not argv:
            raise ValueError("run() needs a command: a non-empty string or argv list")
        timeout = float(timeout_s if timeout_s is not None else self.limits.timeout_s)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        request = {
            "op": "run",
            "argv": argv,
            "timeout": timeout,
            "max_output": self.limits.max_output_bytes,
            "stdin": base64.b64encode(stdin).decode() if stdin is not None else None,
            "cwd": cwd,
            "env": dict(env or {}),
            "keep_background": keep_background,
        }
        started = time.monotonic()
        try:
            reply = self._call(request, timeout + _HOST_GRACE_S)
        except SandboxLostError as exc:
            elapsed = time.monotonic() - started
            return ExecResult(
                exit_code=137, stdout="", stderr=f"selfgym: {exc}\n", duration_s=elapsed,
                timed_out=elapsed >= timeout, oom_killed=self._oom_killed(),
            )
        if not reply.get("ok"):
            raise SandboxError(f"The sandbox refused to run {shlex.join(argv)[:200]!r}: {reply.get('error')}")
        return ExecResult(
            exit_code=reply["exit_code"],
            stdout=base64.b64decode(reply["stdout"]).decode("utf-8", "replace"),
            stderr=base64.b64decode(reply["stderr"]).decode("utf-8", "replace"),
            duration_s=reply["duration_s"],
            timed_out=reply["timed_out"],
            oom_killed=reply["oom_killed"],
            truncated=reply["truncated"],
            disk_full=reply["disk_full"],
            pids_limited=reply["pids_limited"],
        )

    def write_files(self, files: Mapping[str, str | bytes], *, mode: int | None = None) -> None:
        """Write files; relative paths are under ``/work``. Parent directories are created.

        Raises :class:`SandboxError` if a file cannot be written (e.g. the tmpfs is full or the path read-only).
        """
        payload = {}
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else bytes(content)
            payload[str(path)] = {"data": base64.b64encode(data).decode(), "mode": mode}
        reply = self._call({"op": "write", "files": payload}, 60.0)
        if not reply.get("ok"):
            raise SandboxError(f"Could not write {sorted(files)[:5]} in sandbox {self.short_id}: {reply.get('error')}")

    def read_file(self, path: str, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        """Read a file from the container (relative paths are under ``/work``)."""
        reply = self._call({"op": "read", "path": str(path), "max_bytes": max_bytes}, 60.0)
        if not reply.get("ok"):
            raise SandboxError(f"Could not read {path!r} in sandbox {self.short_id}: {reply.get('error')}")
        return base64.b64decode(reply["data"])

    def reset(self) -> None:
        """Kill every process and empty ``/work``, ``/tmp`` and ``/dev/shm``: as good as a new container.

        Raises :class:`SandboxLostError` if that fails; the sandbox is then dead and should be replaced.
        """
        reply = self._call({"op": "reset"}, 30.0)
        if not reply.get("ok"):
            self._alive = False
            self._kill()
            raise SandboxLostError(f"Sandbox {self.short_id} could not be reset: {reply.get('error')}")

    def ping(self) -> dict:
        """Round trip to the executor; returns its pid, uid and Python version."""
        return self._call({"op": "ping"}, 10.0)

    # -- life cycle --------------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """False once the container died, was closed, or failed a reset."""
        return self._alive

    @property
    def short_id(self) -> str:
        return self.container_id[:12]

    def _oom_killed(self) -> bool:
        try:
            return bool(self.client.api.inspect_container(self.container_id)["State"].get("OOMKilled"))
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return False  # auto-removed already

    def _logs(self) -> str:
        try:
            return self.client.api.logs(self.container_id, stdout=False, stderr=True, tail=20).decode(
                "utf-8", "replace").strip()
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return ""

    def _kill(self) -> None:
        try:
            self.client.api.remove_container(self.container_id, force=True)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            pass  # already gone (auto-remove) or the engine is away; the reaper will see to it

    def close(self) -> None:
        """Stop and remove the container. Idempotent."""
        self._alive = False
        if self._channel is not None:
            self._channel.close()  # the executor reads EOF and exits, and auto-remove deletes the container
        self._kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox({self.short_id}, image={self.image!r}, alive={self._alive})"
