"""One running sandbox container and the channel to the executor inside it."""

from __future__ import annotations

import base64
import itertools
import json
import queue
import shlex
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from importlib import resources

from .checks import RUNNER_ENV, check_request
from .errors import (SandboxError, SandboxKilledAtStartError, SandboxLostError, SandboxStartError, image_missing,
                     translate)
from .images import default_image
from .limits import ExecResult, JudgedResult, Limits, PythonProgram
from .reaper import owner_labels
from .replies import Hello, PingReply, ReadReply, RunReply
from .replies import _Reply as Reply
from .replies import parse as parse_reply
from .sdk import docker, requests

_EXECUTOR_SOURCE = resources.files("selfgym.sandbox").joinpath("supervisor.py").read_bytes()
# The container's command reads the executor's source from stdin (exactly N bytes, unbuffered, so the first
# request is not swallowed) and runs it: images need only python3, and `docker ps` shows a short command.
_BOOTSTRAP = (
    "import os,sys\nn=int(sys.argv[1]);b=b''\n"
    "while len(b)<n:\n c=os.read(0,n-len(b))\n if not c:sys.exit(0)\n b+=c\n"
    "exec(compile(b,'selfgym-executor','exec'))"
)
_HEADER = struct.Struct(">I")
_DOCKER_FRAME = struct.Struct(">BxxxI")  # multiplexed attach stream: stream id, 3 pad bytes, payload length
_MAX_DOCKER_FRAME = 1 << 24  # dockerd copies the container's output in chunks of 32 KiB; more is not dockerd
_STDERR_TAIL = 4096  # of the executor's own stderr (bootstrap errors), kept for the start-up error message
_HOST_GRACE_S = 15.0  # past a command's own timeout, the executor's kill and drain; then we declare it lost
WORK_DIR = "/work"
AGENT_UID = 1000  # the agent's code (and files written for it): selfgym.sandbox.supervisor.AGENT_UID
VERIFIER_UID = 1001  # the code that judges it: selfgym.sandbox.supervisor.VERIFIER_UID
SANDBOX_UID = AGENT_UID
User = Literal["agent", "verifier"]
# What the sandbox's own processes (root inside the container) need, and nothing else: make each episode's
# namespaces, mounts and loopback (SYS_ADMIN, NET_ADMIN: kept only by the process that makes episodes, never by one
# that reads a request), start programs under other uids, kill them, and copy an episode's files with their owners
# (snapshots). The executor drops all of them once the first episode exists; programs never have any.
# SYS_ADMIN and NET_ADMIN make episodes' namespaces (the process that makes them alone keeps them); SYS_NICE gives an
# episode made at the lowest priority normal priority back when it starts serving (the executor alone keeps it)
EXECUTOR_CAPABILITIES = ("SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER", "CHOWN", "SYS_ADMIN", "NET_ADMIN",
                         "SYS_NICE")
# The container's private IPC namespace: System V shared memory dies with the last process attached to it and is
# capped like /dev/shm, so no segment outlives a reset or starves the next episode of memory.
IPC_SYSCTLS = {"kernel.shm_rmid_forced": "1", "kernel.shmmax": str(16 << 20), "kernel.shmall": str((16 << 20) // 4096),
               "kernel.shmmni": "64", "kernel.msgmni": "64", "fs.mqueue.queues_max": "64"}


def container_spec(api: docker.APIClient, image: str, limits: Limits, command: list[str],
                   labels: Mapping[str, str], *, stdin_open: bool = False, auto_remove: bool = True,
                   executor: bool = True) -> dict:
    """Keyword arguments of ``APIClient.create_container`` for a sandbox container running ``command``.

    Every container selfgym starts gets these settings: no network (unless ``limits.network``), memory without
    swap, CPU quota, pids limit, read-only root, size-limited tmpfs ``/work`` and ``/tmp``, ``no-new-privileges``,
    private IPC, no core dumps, and no log on the host's disk. ``executor=True`` (a :class:`Sandbox`): the command
    is our executor, run as root with only :data:`EXECUTOR_CAPABILITIES`, and the container's output is not
    logged at all (the channel is the attach stream). ``executor=False`` (a one-off program, e.g. a benchmark's
    baseline): the command runs as the agent's uid with no capability, and its log is capped at 1 MiB.
    """
    # uid/gid, not mode: Docker copies the image directory's mode over a tmpfs mounted on it
    tmpfs_opts = f"rw,nosuid,nodev,exec,size={limits.disk_mb}m,mode=1777,uid={AGENT_UID},gid={AGENT_UID}"
    log_config = (docker.types.LogConfig(type="none") if executor else
                  docker.types.LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}))
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
        cap_add=list(EXECUTOR_CAPABILITIES) if executor else None,
        security_opt=["no-new-privileges"],
        ipc_mode="private",
        sysctls=IPC_SYSCTLS,
        auto_remove=auto_remove,
        log_config=log_config,
        runtime=limits.runtime,
        ulimits=[
            docker.types.Ulimit(name="nofile", soft=4096, hard=4096),
            docker.types.Ulimit(name="core", soft=0, hard=0),
        ],
    )
    return dict(
        image=image,
        command=command,
        user="0:0" if executor else f"{AGENT_UID}:{AGENT_UID}",
        working_dir=WORK_DIR,
        environment={"HOME": WORK_DIR, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"},
        labels=dict(labels),
        stdin_open=stdin_open,
        tty=False,
        hostname="sandbox",
        network_disabled=not limits.network,
        host_config=host_config,
    )


class _Malformed(Exception):
    """The executor's side of the channel broke the protocol."""


class _EpisodeLost(Exception):
    """The executor says the episode's processes broke under a request (its server died)."""


def _b64_size(n: int) -> int:
    return 4 * ((n + 2) // 3)


class _PipeReader:
    """``recv`` with a deadline from a pipe: the stream of an engine reached over ``ssh://``, which the Docker
    SDK runs as ``ssh HOST docker system dial-stdio`` (its socket's ``recv`` blocks until it has all it asked
    for, and a pipe has no timeout). A thread pumps what arrives into a queue of at most 16 chunks of 1 MiB:
    past that it stops reading, as a socket's buffer would."""

    def __init__(self, stream) -> None:
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=16)
        self._closed = threading.Event()
        threading.Thread(target=self._pump, args=(stream,), name="selfgym-ssh-reader", daemon=True).start()

    def _pump(self, stream) -> None:
        try:
            while chunk := stream.read1(1 << 20):
                self._put(chunk)
        except (OSError, ValueError):  # closed under us
            pass
        self._put(b"")

    def _put(self, chunk: bytes) -> None:
        while not self._closed.is_set():
            try:
                self._chunks.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self._closed.set()

    def recv(self, timeout_s: float) -> bytes:
        try:
            chunk = self._chunks.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError from None
        if not chunk:
            self._chunks.put_nowait(b"")  # the end stays the end for every later call (the queue is empty now)
        return chunk


class _Channel:
    """Length-prefixed JSON over the container's attached stdin/stdout, read with a bound on every reply."""

    def __init__(self, sock) -> None:
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._response = sock  # the HTTP response that owns the socket: closed with it
        ssh = getattr(self._sock, "proc", None)  # the Docker SDK's ssh transport: a process's pipes
        self._pipe = _PipeReader(ssh.stdout) if ssh is not None else None
        self._docker_buf = bytearray()  # raw multiplexed bytes
        self._stdout = bytearray()  # demultiplexed stdout of the executor
        self.stderr_tail = bytearray()  # the executor's own stderr (bootstrap errors), last few KiB

    def send(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        self._sock.sendall(_HEADER.pack(len(body)) + body)

    def send_raw(self, data: bytes) -> None:
        self._sock.sendall(data)

    def _fill(self, deadline: float, max_bytes: int) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if self._pipe is not None:
            chunk = self._pipe.recv(remaining)
        else:
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(1 << 20)
        if not chunk:
            raise EOFError
        self._docker_buf += chunk
        while len(self._docker_buf) >= _DOCKER_FRAME.size:
            stream, length = _DOCKER_FRAME.unpack_from(self._docker_buf)
            if length > _MAX_DOCKER_FRAME or stream not in (1, 2):
                raise _Malformed(f"an attach frame of stream {stream} and {length} bytes")
            end = _DOCKER_FRAME.size + length
            if len(self._docker_buf) < end:
                break
            payload = self._docker_buf[_DOCKER_FRAME.size : end]
            if stream == 1:
                self._stdout += payload
            else:
                self.stderr_tail = (self.stderr_tail + payload)[-_STDERR_TAIL:]
            del self._docker_buf[:end]
        if len(self._stdout) > _HEADER.size + max_bytes:
            raise _Malformed(f"more than the {max_bytes} bytes expected")

    def receive(self, timeout_s: float, max_bytes: int) -> dict:
        """The next message; ``_Malformed`` if it is longer than ``max_bytes``, not JSON, or not alone."""
        deadline = time.monotonic() + timeout_s
        while len(self._stdout) < _HEADER.size:
            self._fill(deadline, max_bytes)
        (length,) = _HEADER.unpack_from(self._stdout)
        if length > max_bytes:
            raise _Malformed(f"a message of {length} bytes announced; at most {max_bytes} expected")
        while len(self._stdout) < _HEADER.size + length:
            self._fill(deadline, max_bytes)
        if len(self._stdout) > _HEADER.size + length:
            raise _Malformed("bytes after the reply: the executor speaks only when asked")
        body = bytes(self._stdout[_HEADER.size :])
        self._stdout.clear()
        try:
            message = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _Malformed(f"a reply that is not JSON ({type(exc).__name__})") from None
        if not isinstance(message, dict):
            raise _Malformed("a reply that is not a JSON object")
        return message

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        for closable in (self._sock, self._response):
            try:
                closable.close()
            except (OSError, AttributeError):
                pass


_SMALL_REPLY = 64 * 1024
USERS = ("agent", "verifier")


Program = str | Sequence[str] | PythonProgram


def _program(cmd: Program) -> dict:
    """The request fields for ``cmd``: a bash command line, an argv list, or a :class:`PythonProgram`."""
    if isinstance(cmd, PythonProgram):
        return {"code": cmd.source, "public": cmd.public}
    argv = ["/bin/bash", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
    if not argv:
        raise ValueError("a command is needed: a non-empty string or argv list")
    return {"argv": argv}


def _exec_result(reply: RunReply) -> ExecResult:
    return ExecResult(
        exit_code=reply.exit_code,
        stdout=base64.b64decode(reply.stdout).decode("utf-8", "replace"),
        stderr=base64.b64decode(reply.stderr).decode("utf-8", "replace"),
        duration_s=reply.duration_s,
        timed_out=reply.timed_out,
        oom_killed=reply.oom_killed,
        truncated=reply.truncated,
        disk_full=reply.disk_full,
        pids_limited=reply.pids_limited,
    )


def _refusal(hello: Hello) -> str | None:
    """Why a greeting is not that of a privilege-separated executor, or None."""
    if not hello.ready:
        return "did not say it was ready."
    if hello.uid != 0:
        return (f"runs as uid {hello.uid}, not as root inside the container, so it cannot start the agent's "
                "commands under another uid. Do not override the container's user.")
    if (hello.agent_uid, hello.verifier_uid) != (AGENT_UID, VERIFIER_UID):
        return f"uses uids {hello.agent_uid}/{hello.verifier_uid}; this selfgym expects {AGENT_UID}/{VERIFIER_UID}."
    if not hello.undumpable:
        return ("could not make itself undumpable (prctl through ctypes failed). The image's python3 needs "
                "ctypes.")
    if hello.episode_error:
        return (f"could not give an episode fresh namespaces ({hello.episode_error}). Every episode runs in new "
                "PID, network, IPC and mount namespaces, which needs the container's CAP_SYS_ADMIN and "
                "CAP_NET_ADMIN (selfgym adds them; a runtime or policy that refuses them, e.g. a seccomp profile "
                "without unshare/mount, cannot run sandboxes) and python3 >= 3.8 with ctypes on x86-64 or arm64.")
    return None


class Sandbox:
    """One running container with a resident executor, ready to run commands.

    Containers have no network (unless ``limits.network``), a read-only root, writable tmpfs at ``/work`` (the
    working directory) and ``/tmp``, ``no-new-privileges``, and no log on the host. Commands run in the current
    *episode*: new PID, network, IPC and mount namespaces with fresh ``/work``, ``/tmp`` and ``/dev/shm``, renewed
    by :meth:`reset` (see :mod:`selfgym.sandbox.supervisor`). The executor (PID 1 of the container) and the episode's
    server run as root and are not dumpable; every command runs under an unprivileged uid with no capability and
    a seccomp filter: the agent's (1000) by default, or the verifier's (1001) with ``user="verifier"``, which the
    agent's processes cannot trace, signal or read. Every reply from the executor is
    bounded in size and validated (:mod:`selfgym.sandbox.replies`); one that does not fit marks the sandbox dead.
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
        from .engine import docker_client  # Docker's SDK: loaded with the first sandbox

        self.client = client or docker_client()
        self.image = image or default_image(self.client)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._alive = False
        self._removed = False
        self._channel: _Channel | None = None
        self.container_id = self._create(dict(owner_labels(), **(labels or {})))
        try:
            self._channel = _Channel(self.client.api.attach_socket(
                self.container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}))
            self.client.api.start(self.container_id)
            self._channel.send_raw(_EXECUTOR_SOURCE)
            hello = parse_reply(Hello, self._channel.receive(start_timeout_s, _SMALL_REPLY))
        except Exception as exc:
            output = bytes(self._channel.stderr_tail).decode("utf-8", "replace").strip() if self._channel else ""
            killed = self._killed_from_outside()
            self.close()
            if isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException)):
                raise translate(exc, image=self.image) from None
            if killed:
                raise SandboxKilledAtStartError(
                    f"The sandbox's container was killed while its executor started ({killed})") from None
            raise SandboxStartError(
                f"The sandbox executor in image {self.image!r} did not start ({type(exc).__name__}: {exc}). "
                f"The image needs python3 >= 3.8 on PATH. Container output: {output or '(none)'}"
            ) from None
        problem = _refusal(hello)
        if problem:
            self.close()
            raise SandboxStartError(f"The sandbox executor in image {self.image!r} {problem}")
        self._alive = True

    def _killed_from_outside(self) -> str | None:
        """Why the container is gone if something outside killed it (SIGKILL, not the OOM killer), else None."""
        try:
            state = self.client.api.inspect_container(self.container_id)["State"]
        except Exception:  # noqa: BLE001 - removed meanwhile: say nothing we cannot tell
            return None
        if state.get("Running") or state.get("OOMKilled") or state.get("ExitCode") != 137:
            return None
        return "exit code 137"

    def _create(self, labels: dict[str, str]) -> str:
        options = {"episode_network": self.limits.episode_network, "ipc_sysctls": sorted(IPC_SYSCTLS)}
        command = ["python3", "-I", "-c", _BOOTSTRAP, str(len(_EXECUTOR_SOURCE)), json.dumps(options)]
        # stdin_open with an attach (not detach) makes the SDK set StdinOnce: when our socket closes, the
        # executor reads EOF and exits, so a crashed host process leaves no running container. It is not
        # auto-removed: when it dies under us we read why (OOM or not) before removing it; the reaper removes
        # the stopped containers of crashed processes.
        spec = container_spec(self.client.api, self.image, self.limits, command, labels, stdin_open=True,
                              auto_remove=False)
        try:
            created = self.client.api.create_container(**spec)
        except docker.errors.ImageNotFound:
            raise image_missing(self.image) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise translate(exc, image=self.image) from None
        return created["Id"]

    # -- the executor protocol ---------------------------------------------------------------------------------

    def _call(self, request: dict, timeout_s: float, reply_type: type = Reply, max_reply: int = _SMALL_REPLY):
        with self._lock:
            if not self._alive or self._channel is None:
                raise SandboxLostError(f"Sandbox {self.short_id} is closed or lost; use a new one.")
            request["id"] = next(self._ids)
            try:
                self._channel.send(request)
                reply = parse_reply(reply_type, self._channel.receive(timeout_s, max_reply))
                if reply.id != request["id"]:
                    raise _Malformed(f"a reply to request {reply.id}, not {request['id']}")
                if reply.lost:
                    raise _EpisodeLost(reply.error)
            except (OSError, EOFError, TimeoutError, _Malformed, ValueError, _EpisodeLost) as exc:
                self._alive = False
                if isinstance(exc, _EpisodeLost):
                    reason = f"lost its episode ({exc})"
                elif isinstance(exc, (TimeoutError, socket.timeout)):
                    reason = "stopped answering"
                elif isinstance(exc, (_Malformed, ValueError)):
                    reason = f"broke the protocol ({exc})"
                else:
                    reason = "died"
                oom_killed = self._oom_killed()
                self.close()
                lost = SandboxLostError(f"Sandbox {self.short_id} {reason} during {request['op']!r}"
                                        f"{' (out of memory)' if oom_killed else ''}.")
                lost.oom_killed = oom_killed
                raise lost from None
        return reply

    def run(
        self,
        cmd: Program,
        *,
        stdin: str | bytes | None = None,
        timeout_s: float | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        keep_background: bool = False,
        user: User = "agent",
    ) -> ExecResult:
        """Run ``cmd`` (a bash command line, an argv list run without a shell, or a :class:`PythonProgram`) and
        wait for it.

        ``timeout_s`` defaults to ``limits.timeout_s``; past it the whole process tree is killed. Processes the
        command left in the background are killed when it ends, unless ``keep_background`` (an interactive
        shell's jobs); after a timeout or when the pids limit was hit, every process is killed regardless.
        ``user="verifier"`` runs it under the verifier's uid, out of reach of the agent's processes (give a
        verifier its secrets through ``env`` or ``stdin``: a command line is readable by every process).

        Never raises for anything the command does: a timeout, OOM kill, full disk or huge output is reported in
        the :class:`ExecResult`; when the command's memory use killed the whole container, the result has exit
        code 137 and ``oom_killed``, and this sandbox is dead (:attr:`alive` is False) so a pool replaces it.
        Raises :class:`SandboxLostError` when the container was lost for a reason outside the command (the engine
        or the host failed, someone removed it): that is no result of the command's, and an env replays it.
        """
        timeout = self._timeout(timeout_s)
        request = self._run_request(_program(cmd), timeout, stdin, cwd, env, keep_background, user)
        reply = self._run(request, timeout, with_subject=False)
        return reply if isinstance(reply, ExecResult) else _exec_result(reply)

    def run_judged(
        self,
        judge: Sequence[str] | PythonProgram,
        subject: Sequence[str] | PythonProgram,
        *,
        stdin: str | bytes | None = None,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        subject_env: Mapping[str, str] | None = None,
    ) -> JudgedResult:
        """Run ``subject`` (the agent's side, as the agent's uid) under the eye of ``judge`` (as the verifier's).

        The subject starts first; its stdin and stdout are pipes to the judge, which finds their file descriptors
        in ``$SELFGYM_SUBJECT_FDS`` as ``"read,write"``: the judge drives the subject and decides from what it
        reads, in a process the subject cannot reach. ``stdin`` goes to the judge. When the judge exits, every
        process is killed. The verdict is the judge's output (``JudgedResult.judge``); the subject's exit code and
        stderr say how it ended. Limits and errors as :meth:`run`.
        """
        timeout = self._timeout(timeout_s)
        request = self._run_request(_program(judge), timeout, stdin, None, env, False, "verifier")
        request["subject"] = {**_program(subject), "env": dict(subject_env or {})}
        reply = self._run(request, timeout, with_subject=True)
        if isinstance(reply, ExecResult):  # the container ran out of memory: neither side said anything
            return JudgedResult(reply, None, "")
        subject_reply = reply.subject
        if subject_reply is None:
            raise SandboxLostError(f"Sandbox {self.short_id} answered a judged run without the subject's part.")
        return JudgedResult(_exec_result(reply), subject_reply.exit_code,
                            base64.b64decode(subject_reply.stderr).decode("utf-8", "replace"))

    def run_check(self, script: str, *, env: Mapping[str, str] | None = None,
                  timeout_s: float | None = None) -> ExecResult:
        """Run a check script: bash (``-e``) under the verifier's uid, with ``as_agent CMD...`` available to run the
        agent's programs and code-running tools as the agent (see :mod:`selfgym.sandbox.checks`). ``env`` (the
        answer to judge, say) reaches only the check. The verdict is the result's exit code."""
        judge, judge_env, runner = check_request(script, dict(env or {}))
        return self.run_judged(judge, runner, env=judge_env, subject_env=RUNNER_ENV, timeout_s=timeout_s).judge

    def _timeout(self, timeout_s: float | None) -> float:
        return float(timeout_s if timeout_s is not None else self.limits.timeout_s)

    def _run_request(self, program: dict, timeout: float, stdin: str | bytes | None, cwd: str | None,
                     env: Mapping[str, str] | None, keep_background: bool, user: User) -> dict:
        if user not in USERS:
            raise ValueError(f"user must be one of {', '.join(USERS)}, not {user!r}")
        if isinstance(stdin, str):
            stdin = stdin.encode()
        return {
            "op": "run",
            **program,
            "timeout": timeout,
            "max_output": self.limits.max_output_bytes,
            "stdin": base64.b64encode(stdin).decode() if stdin is not None else None,
            "cwd": cwd,
            "env": dict(env or {}),
            "keep_background": keep_background,
            "user": user,
        }

    def _run(self, request: dict, timeout: float, *, with_subject: bool) -> RunReply | ExecResult:
        cap = self.limits.max_output_bytes + 4096 + 128
        max_reply = 2 * _b64_size(cap) + (_b64_size(16 * 1024 + 4096 + 128) if with_subject else 0) + 4096
        started = time.monotonic()
        try:
            reply = self._call(request, timeout + _HOST_GRACE_S, RunReply, max_reply)
        except SandboxLostError as exc:
            if not getattr(exc, "oom_killed", False):
                raise
            return ExecResult(exit_code=137, stdout="", stderr=f"selfgym: {exc}\n",
                              duration_s=time.monotonic() - started, oom_killed=True)
        if not reply.ok:
            what = shlex.join(request["argv"]) if "argv" in request else "a Python program"
            raise SandboxError(f"The sandbox refused to run {what[:200]!r}: {reply.error}")
        return reply

    def write_files(self, files: Mapping[str, str | bytes], *, mode: int | None = None, user: User = "agent") -> None:
        """Write files; relative paths are under ``/work``. Parent directories are created.

        The files are written by a process of ``user``'s uid (the agent's by default, so they are the agent's to
        change, and a link the agent planted cannot redirect the write anywhere the agent could not write).
        Raises :class:`SandboxError` if a file cannot be written (e.g. the tmpfs is full or the path read-only).
        """
        payload = {}
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else bytes(content)
            payload[str(path)] = {"data": base64.b64encode(data).decode(), "mode": mode}
        reply = self._call({"op": "write", "files": payload, "user": user}, 60.0)
        if not reply.ok:
            raise SandboxError(f"Could not write {sorted(files)[:5]} in sandbox {self.short_id}: {reply.error}")

    def read_file(self, path: str, *, max_bytes: int = 64 * 1024 * 1024, user: User = "agent") -> bytes:
        """Read a file from the container (relative paths are under ``/work``), with ``user``'s rights."""
        reply = self._call({"op": "read", "path": str(path), "max_bytes": max_bytes, "user": user}, 60.0,
                           ReadReply, _b64_size(max_bytes) + 4096)
        if not reply.ok:
            raise SandboxError(f"Could not read {path!r} in sandbox {self.short_id}: {reply.error}")
        return base64.b64decode(reply.data)

    def reset(self) -> None:
        """Start a new episode: a fresh kernel view, not a wiped one.

        The current episode ends (its first process dies, and the kernel kills every other process of its PID
        namespace; the executor waits until they are gone) and the sandbox switches to a spare episode made ahead
        of time: new PID, network, IPC and mount namespaces with new, empty ``/work``, ``/tmp`` and ``/dev/shm``.
        No file, process, IPC object, socket, port or namespace counter of the old episode reaches the new one;
        the executor checks that the new one is fresh (PID 1 of namespaces of its own, empty scratch space).

        Raises :class:`SandboxLostError` if that fails, or when a reset cannot give a fresh kernel view: a
        writable root (``limits.read_only_root=False``) or the container's network namespace
        (``limits.episode_network="container"``) outlive episodes, so such a sandbox is replaced instead (the
        sandbox is then dead and a pool starts a new container).
        """
        if not self.limits.read_only_root or self.limits.episode_network == "container":
            self.close()
            what = "a writable root" if not self.limits.read_only_root else "the container's network namespace"
            raise SandboxLostError(f"Sandbox {self.short_id} has {what}, which outlives an episode; it is "
                                   "replaced instead.")
        reply = self._call({"op": "reset"}, 30.0)
        if not reply.ok:
            self.close()
            raise SandboxLostError(f"Sandbox {self.short_id} could not be reset: {reply.error}")

    def snapshot(self, *, max_bytes: int = 256 * 1024 * 1024) -> bytes:
        """The files of the current episode (``/work``, ``/tmp``, ``/dev/shm``: contents, links, modes, owners) as
        an opaque archive for :meth:`restore`. Processes and their memory are not in it. Taken by the executor
        as root without following any link the agent planted. ``SandboxError`` when the files take more than
        ``max_bytes``."""
        reply = self._call({"op": "snapshot", "max_bytes": max_bytes}, 120.0, ReadReply,
                           _b64_size(2 * max_bytes + (16 << 20)) + 4096)
        if not reply.ok:
            raise SandboxError(f"Could not snapshot sandbox {self.short_id}: {reply.error}")
        return base64.b64decode(reply.data)

    def restore(self, snapshot: bytes) -> None:
        """Put the files of a :meth:`snapshot` (of this or another sandbox) into the current episode, which should
        be fresh (right after :meth:`reset` or from a pool). Owners are kept as the agent's or the verifier's
        (anything else becomes the agent's); set-id bits are dropped; every entry is created without following
        links, so an archive cannot write outside the scratch directories."""
        reply = self._call({"op": "restore", "data": base64.b64encode(snapshot).decode()}, 120.0)
        if not reply.ok:
            raise SandboxError(f"Could not restore a snapshot in sandbox {self.short_id}: {reply.error}")

    def ping(self) -> dict:
        """Round trip to the executor; returns its pid (1), uid (0) and Python version, the container-side pid of
        the current episode's first process (``episode_server``), how many episodes were made, and whether each
        has a network namespace of its own (``network``: ``"fresh"``) or shares the container's."""
        return self._call({"op": "ping"}, 10.0, PingReply).model_dump(exclude={"ok", "id", "error", "lost"})

    # -- life cycle --------------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """False once the container died, was closed, or failed a reset."""
        return self._alive

    @property
    def short_id(self) -> str:
        return self.container_id[:12]

    def _oom_killed(self) -> bool:
        """Whether the kernel's OOM killer struck this container (the agent's memory use, not an outside cause)."""
        try:
            return bool(self.client.api.inspect_container(self.container_id)["State"].get("OOMKilled"))
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return False  # removed already, or the engine is away: not something the agent's code can do

    def _kill(self) -> None:
        try:
            self.client.api.remove_container(self.container_id, force=True)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            pass  # already gone, or the engine is away; the reaper will see to it

    def close(self) -> None:
        """Close the channel (the executor reads EOF and exits) and remove the container. Idempotent: the second
        call does nothing (nor asks the engine anything, which at interpreter exit may be gone)."""
        self._alive = False
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        if not self._removed:
            self._removed = True
            self._kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox({self.short_id}, image={self.image!r}, alive={self._alive})"
