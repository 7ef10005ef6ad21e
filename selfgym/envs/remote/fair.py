"""A first-come, first-served gate for a fixed number of places (an env server's sandboxes), on the asyncio loop.

Sessions queue in the order they asked; a place given back goes to the longest waiter, never to whoever asks next,
so a session that releases and asks again goes to the back of the queue. A wait is bounded: past its ``timeout_s``
the session leaves the queue (its place goes to the next) and the caller is told (:class:`GateTimeout`).

Not thread-safe: every call is made on the event loop that runs the server (:attr:`waiting` and :attr:`held` may
be read from any thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class GateTimeout(TimeoutError):
    """No place became free within the wait's bound."""


class FairGate:
    """``size`` places handed out in the order they were asked for.

    Args:
        size: how many holders at once (>= 1).
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a gate needs at least one place, got {size}")
        self.size = size
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._queued = 0  # callers inside acquire() that found no free place: an int, readable from any thread

    @property
    def waiting(self) -> int:
        """Callers queued for a place now."""
        return self._queued

    @property
    def held(self) -> int:
        """Places held now."""
        return self.size - self._free

    async def acquire(self, timeout_s: float | None) -> None:
        """Take a place, after everyone who asked before; :class:`GateTimeout` after ``timeout_s`` seconds
        (None: no bound). A caller cancelled while waiting leaves the queue and holds nothing."""
        if self._free > 0 and not self._queued:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._queued += 1
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a place as the wait ended: it goes on to the next in line
            else:
                waiter.cancel()
            with contextlib.suppress(ValueError):  # already taken off the queue by release()
                self._waiters.remove(waiter)
            if isinstance(exc, asyncio.TimeoutError):
                raise GateTimeout(f"no place became free within {timeout_s:g} s") from None
            raise
        finally:
            self._queued -= 1

    def release(self) -> None:
        """Give a place back: to the longest waiter, else to the free places."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self._free >= self.size:
            raise RuntimeError("a gate place was released more often than taken")
        self._free += 1

