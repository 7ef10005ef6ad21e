"""Forks over the env server's protocol: ``snapshot`` and ``restore`` messages (selfgym's, beside OpenEnv's).

``{"type": "snapshot"}`` saves the session's episode on the server (``clone_state``) and answers
``{"type": "snapshot", "data": {"snapshot_id": ID, "step_count": N}}``. ``{"type": "restore", "data":
{"snapshot_id": ID}}`` puts a saved state into the session's env (``restore_state``), which may be another session's:
that is a fork, a new session restored from its parent's snapshot (``RemoteEnv.fork()`` does so). It answers the
session's ``state``.

The state itself never leaves the server: it holds the task's hidden data and files the verifier wrote. A client gets
an id of 128 random bits, which is the capability to restore it; ids are not listed anywhere. Each session keeps its
``max_per_session`` latest snapshots; they go when the session that made them ends. All sessions' snapshots together
hold at most ``max_bytes`` of sandbox files: past it a session's own oldest go first, and a snapshot that does not fit
even so is refused (no client makes the server run out of memory, nor drops another client's snapshots).

A server of several processes (``--processes``) gives each process its own store over one ``shared_dir`` (made by
their supervisor, readable by their user only): a snapshot is also written there, so a fork's session that lands on
another process restores it; the limits hold per process.
"""

from __future__ import annotations

import os
import pickle
import re
import secrets
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field

from ..forks import EnvState, restore_into

FORK_MESSAGES = ("snapshot", "restore")
SNAPSHOT_ID = re.compile(r"[0-9a-f]{32}")  # what save() hands out: the only names read from a shared_dir


class ForkMessage(BaseModel):
    """A ``snapshot`` or ``restore`` message: its type and data, nothing else (no field names another session)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["snapshot", "restore"]
    data: dict[str, Any] = Field(default_factory=dict)


class RestoreData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    snapshot_id: str = Field(min_length=1, max_length=64)


class SnapshotStore:
    """The snapshots of an env server's sessions, by id (thread-safe: sessions run in threads of their own)."""

    def __init__(self, max_per_session: int = 32, max_bytes: int = 1 << 30, shared_dir: Path | None = None) -> None:
        self.shared_dir = shared_dir
        self.max_per_session = max_per_session
        self.max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._states: dict[str, EnvState] = {}
        self._owned: dict[str, OrderedDict[str, None]] = {}  # session id -> its snapshot ids, oldest first

    def save(self, session_id: str, env: gym.Env) -> str:
        """The id of a new snapshot of ``env``'s episode (the oldest of the session's goes past the limit)."""
        state = env.unwrapped.clone_state()
        snapshot_id = secrets.token_hex(16)
        with self._lock:
            owned = self._owned.setdefault(session_id, OrderedDict())
            others = self._bytes - sum(self._states[i].nbytes for i in owned)
            if others + state.nbytes > self.max_bytes:  # refused before any of the session's own goes
                raise ValueError(f"this snapshot holds {state.nbytes:,} bytes of files; the server keeps at most "
                                 f"{self.max_bytes:,} for all sessions' snapshots (other sessions hold "
                                 f"{others:,}): make the sandbox's files smaller, or try again later")
            while owned and (len(owned) >= self.max_per_session or self._bytes + state.nbytes > self.max_bytes):
                self._drop(owned.popitem(last=False)[0])
            owned[snapshot_id] = None
            self._states[snapshot_id] = state
            self._bytes += state.nbytes
        if self.shared_dir is not None:  # for the other processes of this server (written whole, then named)
            with tempfile.NamedTemporaryFile(dir=self.shared_dir, prefix=".", delete=False) as file:
                pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(file.name, self.shared_dir / snapshot_id)
        return snapshot_id

    def _drop(self, snapshot_id: str) -> None:
        state = self._states.pop(snapshot_id, None)
        if state is not None:
            self._bytes -= state.nbytes
            if self.shared_dir is not None:
                (self.shared_dir / snapshot_id).unlink(missing_ok=True)

    def _shared(self, snapshot_id: str) -> EnvState | None:
        """A snapshot another process of this server saved (None: no such id)."""
        if self.shared_dir is None or not SNAPSHOT_ID.fullmatch(snapshot_id):
            return None
        try:
            # written by this server's own processes into a folder only their user can touch; never a client's bytes
            return pickle.loads((self.shared_dir / snapshot_id).read_bytes())
        except FileNotFoundError:
            return None

    def restore(self, snapshot_id: str, env: gym.Env) -> None:
        """Put snapshot ``snapshot_id`` into ``env``; ``KeyError`` if there is none (or it was dropped)."""
        with self._lock:
            state = self._states.get(snapshot_id)
        if state is None:
            state = self._shared(snapshot_id)
        if state is None:
            raise KeyError(f"no snapshot {snapshot_id[:64]!r} on this server (snapshots go when the session that "
                           "made them ends, and past each session's latest "
                           f"{self.max_per_session})")
        restore_into(env, state)

    def drop_session(self, session_id: str) -> None:
        """Forget the snapshots a session made (it ended)."""
        with self._lock:
            for snapshot_id in self._owned.pop(session_id, {}):
                self._drop(snapshot_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)
