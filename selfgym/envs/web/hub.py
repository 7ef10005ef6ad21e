"""One Playwright instance per process, on its own thread and asyncio loop, shared by every web environment.

Playwright's sync API refuses to run where an asyncio loop is already running (Jupyter, async eval workers) and
is bound to one thread; its async API needs a loop. So selfgym runs the async API on a private loop in a daemon
thread, and environments submit coroutines to it from any thread (:meth:`PlaywrightHub.run`). The hub is
reference-counted: the first :func:`acquire_hub` starts it (one Playwright driver process), the last
:func:`release_hub` stops it, so that no driver process outlives the environments. At interpreter exit, sessions
left open are closed and the hub stopped (the driver removes its temporary folders only then). A forked child
(vector envs) gets a hub of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from playwright.async_api import Playwright, async_playwright

T = TypeVar("T")

_lock = threading.Lock()
_hub: PlaywrightHub | None = None
_users = 0
_exit_handler_installed = False


class _Closable(Protocol):
    def close(self) -> None: ...


class PlaywrightHub:
    """An asyncio loop in a daemon thread with a started Playwright."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="selfgym-playwright", daemon=True)
        self._thread.start()
        self.sessions: weakref.WeakSet[_Closable] = weakref.WeakSet()  # browser sessions to close at exit
        self.playwright: Playwright = self.run(async_playwright().start(), timeout_s=60)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coroutine`` on the hub's loop and wait for its result (cancelling it past ``timeout_s``)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        try:
            self.run(self.playwright.stop(), timeout_s=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self.loop.close()


def acquire_hub() -> PlaywrightHub:
    """The process's hub, started if needed; pair every call with :func:`release_hub`."""
    global _hub, _users, _exit_handler_installed
    with _lock:
        if not _exit_handler_installed:
            atexit.register(_stop_at_exit)
            _exit_handler_installed = True
        if _hub is None or _hub.pid != os.getpid():  # none yet, or inherited through fork (its thread is gone)
            _hub, _users = PlaywrightHub(), 0
        _users += 1
        return _hub


def release_hub() -> None:
    """Drop one user of the hub; the last one stops Playwright and its driver process."""
    global _hub, _users
    with _lock:
        if _hub is None or _hub.pid != os.getpid():
            return
        _users -= 1
        if _users <= 0:
            hub, _hub, _users = _hub, None, 0
            hub.stop()


def _stop_at_exit() -> None:
    global _hub, _users
    with _lock:
        hub, _hub, _users = _hub, None, 0
    if hub is None or hub.pid != os.getpid():
        return
    for session in list(hub.sessions):
        try:
            session.close()
        except Exception:  # at exit, one broken session must not keep the others open
            pass
    try:
        hub.stop()
    except Exception:
        pass
