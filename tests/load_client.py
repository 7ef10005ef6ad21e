"""Many OpenEnv sessions from one client process (asyncio WebSockets), for the scale tests and
``benchmarks/env_server_load.py``.

Every session opens its socket, plays episodes (``reset``, then ``step`` until ``done``), and stays open until
every session has played (so that the server holds them all at once) or until a time is up; then it closes, or
drops its connection without a close frame (a client killed mid-session), as asked.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets


@dataclass
class SessionRecord:
    """What one session saw: episodes finished, the seconds of each reset and step round trip, errors by code."""

    episodes: int = 0
    resets: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    episode_seconds: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    served_at: list[float] = field(default_factory=list)  # time.monotonic() of each reset's answer
    ended_at: list[float] = field(default_factory=list)  # time.monotonic() at each finished episode's last answer
    began_play: float = 0.0  # time.monotonic() once every session had connected
    connected: bool = False


def raise_open_files_limit(wanted: int) -> None:
    """A socket per session: lift this process's soft open-files limit towards ``wanted`` (within the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))


async def _exchange(ws, message: dict[str, Any], record: SessionRecord, timeout_s: float) -> dict[str, Any] | None:
    await ws.send(json.dumps(message))
    answer = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
    if answer.get("type") == "error":
        code = answer["data"].get("code", "?")
        record.errors[code] = record.errors.get(code, 0) + 1
        return None
    return answer


async def run_sessions(url: str, sessions: int, *, action: Callable[[dict[str, Any]], dict[str, Any]],
                       episodes: int | None = 1, duration_s: float | None = None, connect_at_once: int = 256,
                       drop: Callable[[int], bool] = lambda index: False, reply_timeout_s: float = 300.0,
                       while_held: Callable[[], Any] | None = None, when_connected: Callable[[], Any] | None = None,
                       seed: Callable[[int, int], int] = lambda index, episode: index + episode) -> list[SessionRecord]:
    """Play ``episodes`` each (or episodes until ``duration_s`` has passed since all connected) in ``sessions``
    sessions at once; ``action(observation)`` is each step's action, and episode ``e`` of session ``i`` resets with
    ``seed(i, e)``. ``connect_at_once`` bounds the handshakes in flight; ``when_connected()`` runs once every
    session has connected, before play. Once all have played, ``while_held()`` runs (awaited if a coroutine) while
    every session is still open; then session ``i`` drops its connection without closing if ``drop(i)``, else
    closes it."""
    uri = url.replace("http://", "ws://") + "/ws"
    records = [SessionRecord() for _ in range(sessions)]
    handshakes = asyncio.Semaphore(connect_at_once)
    connected, played, released = asyncio.Event(), asyncio.Event(), asyncio.Event()
    counts = {"connected": 0, "played": 0}
    deadline: list[float] = []

    def arrived(key: str, event: asyncio.Event) -> None:
        counts[key] += 1
        if counts[key] == sessions:
            if key == "connected" and when_connected is not None:
                when_connected()
            event.set()

    async def one(index: int) -> None:
        record = records[index]
        async with handshakes:
            ws = await websockets.connect(uri, max_size=None, ping_interval=None, open_timeout=reply_timeout_s,
                                          close_timeout=5)
        try:
            record.connected = True
            arrived("connected", connected)
            await connected.wait()
            record.began_play = time.monotonic()
            if duration_s is not None and not deadline:
                deadline.append(time.monotonic() + duration_s)
            while (episodes is None or record.episodes < episodes) and (
                    duration_s is None or time.monotonic() < deadline[0]):
                began = time.perf_counter()
                observation = await _exchange(ws, {"type": "reset", "data": {"seed": seed(index, record.episodes)}},
                                              record, reply_timeout_s)
                record.resets.append(time.perf_counter() - began)
                record.served_at.append(time.monotonic())
                if observation is None:
                    if duration_s is None:
                        break  # a session that cannot reset plays no more (the caller sees its errors)
                    await asyncio.sleep(0.1)
                    continue
                done = False
                while not done:
                    started = time.perf_counter()
                    answer = await _exchange(ws, {"type": "step", "data": action(observation)}, record,
                                             reply_timeout_s)
                    record.steps.append(time.perf_counter() - started)
                    if answer is None:
                        break
                    done = answer["data"]["done"]
                if done:
                    record.episodes += 1
                    record.episode_seconds.append(time.perf_counter() - began)
                    record.ended_at.append(time.monotonic())
            arrived("played", played)
            await released.wait()
        finally:
            if drop(index):
                ws.transport.abort()  # no close frame: as a killed client leaves
            else:
                await ws.close()

    async def hold() -> None:
        await played.wait()
        if while_held is not None:
            result = while_held()
            if asyncio.iscoroutine(result):
                await result
        released.set()

    tasks = [asyncio.ensure_future(one(index)) for index in range(sessions)]
    holder = asyncio.ensure_future(hold())
    try:
        await asyncio.gather(*tasks, holder)
    finally:
        for task in [*tasks, holder]:
            task.cancel()
    return records
