"""A TCP tunnel from the host into a container that has no network, through ``docker exec``.

The web sandbox has no network interface but loopback, so Chromium's DevTools port (127.0.0.1:9222 inside the
container) cannot be reached over any network. The tunnel listens on an ephemeral port of the host's loopback,
accepts exactly one connection (Playwright's), and carries its bytes over the stdin/stdout of a ``docker exec``
running ``socat STDIO TCP:127.0.0.1:9222`` in the container. Only a process that can use the Docker API can open
such a channel; the container itself can reach nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
import socket
import struct
from contextlib import suppress


from ...sandbox.errors import SandboxError
from ...sandbox.sandbox import AGENT_UID

if TYPE_CHECKING:  # Docker's SDK loads with the first sandbox, not with the env
    import docker

_FRAME = struct.Struct(">BxxxI")  # docker's multiplexed stream: stream id, 3 pad bytes, payload length
_STDOUT = 1


class ExecTunnel:
    """Forward one TCP connection on ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>`` inside ``container_id``.

    Use from an asyncio loop: ``port = await tunnel.open()``; then connect to it once; ``await tunnel.close()``.
    """

    def __init__(self, api: docker.APIClient, container_id: str, target_port: int) -> None:
        if api.base_url.startswith(("https://", "http+docker://ssh")):
            # asyncio carries the exec stream only over a plain socket (a TLS socket or ssh's pipes it cannot)
            transport = "TLS" if api.base_url.startswith("https") else "ssh"
            raise SandboxError(
                "Web-v0 reaches its browser through a docker exec stream, which selfgym carries over a unix "
                f"socket or plain TCP only, and this engine is reached over {transport}. Forward the engine's "
                "socket instead: `ssh -NL /tmp/engine.sock:/var/run/docker.sock user@host` and "
                "DOCKER_HOST=unix:///tmp/engine.sock (or executor.docker_host).")
        self.api = api
        self.container_id = container_id
        self.target_port = target_port
        self._server: asyncio.base_events.Server | None = None
        self._taken = False
        self._tasks: set[asyncio.Task] = set()
        self._exec_socket: socket.socket | None = None
        self._exec_response = None
        self.closed = asyncio.Event()

    async def open(self) -> int:
        """Start listening; returns the host port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._taken:  # one client only: whoever connects second gets nothing
            writer.close()
            return
        self._taken = True
        self._server.close()
        loop = asyncio.get_running_loop()
        import docker.errors

        try:
            sock = await loop.run_in_executor(None, self._start_exec)
        except docker.errors.DockerException:
            writer.close()
            self.closed.set()
            return
        up = asyncio.create_task(self._upstream(reader, sock))
        down = asyncio.create_task(self._downstream(sock, writer))
        self._tasks |= {up, down}
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
            self._close_exec()
            writer.close()
            self.closed.set()

    def _start_exec(self) -> socket.socket:
        # as the agent's uid: the container's own user is the executor's (root inside), which an exec would get
        exec_id = self.api.exec_create(self.container_id, ["socat", "STDIO", f"TCP:127.0.0.1:{self.target_port}"],
                                       stdin=True, stdout=True, stderr=False, tty=False,
                                       user=f"{AGENT_UID}:{AGENT_UID}")["Id"]
        self._exec_response = self.api.exec_start(exec_id, socket=True)
        sock = getattr(self._exec_response, "_sock", self._exec_response)
        sock.setblocking(False)
        self._exec_socket = sock
        return sock

    async def _upstream(self, reader: asyncio.StreamReader, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while data := await reader.read(1 << 16):
            await loop.sock_sendall(sock, data)

    async def _downstream(self, sock: socket.socket, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        buffer = bytearray()
        while chunk := await loop.sock_recv(sock, 1 << 16):
            buffer += chunk
            while len(buffer) >= _FRAME.size:
                stream, length = _FRAME.unpack_from(buffer)
                if len(buffer) < _FRAME.size + length:
                    break
                if stream == _STDOUT:
                    writer.write(bytes(buffer[_FRAME.size:_FRAME.size + length]))
                del buffer[:_FRAME.size + length]
            await writer.drain()

    def _close_exec(self) -> None:
        if self._exec_socket is not None:
            with suppress(OSError):
                self._exec_socket.close()
            self._exec_socket = None
        if self._exec_response is not None:
            with suppress(Exception):
                self._exec_response.close()
            self._exec_response = None

    async def close(self) -> None:
        """Stop listening and cut the connection (socat in the container then exits on end of input)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        self._close_exec()
        self.closed.set()
