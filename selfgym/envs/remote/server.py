"""``selfgym env-server``: serve one selfgym env id over OpenEnv's protocol (see :mod:`.wire`).

Every WebSocket connection to ``/ws`` is a session with an env of its own, made with ``gym.make`` on one sandbox
pool that all sessions share (as the env class declares its sandbox: ``sandbox_spec``). A session ends when its
client sends ``close``, its socket drops, or it sends nothing for ``idle_timeout_s``; its env is closed and its
sandbox goes back to the pool. When ``max_sessions`` are open, a new connection is answered ``CAPACITY_REACHED``.

Sessions cost what their env's state costs: no thread each. The event loop reads every socket; blocking env work
(``gym.make``, ``reset``, ``step``, ``close``) runs on one executor of ``workers`` threads shared by all sessions.
Sandboxes are handed out first come, first served (:class:`~.fair.FairGate`): a session takes one at ``reset``,
gives it back when its episode ends (or at its next ``reset`` when others wait: a reset does not jump the queue),
and waits at most ``sandbox_wait_s`` (then ``CAPACITY_REACHED``, and the session goes on). Envs that need no
sandbox (Math-v0 with tools off) never queue.

Two methods are the places a task is chosen and an outcome is known: :meth:`EnvServer._choose_task` (at every
reset) and :meth:`EnvServer._episode_ended` (once per finished episode); both run on the event loop.

The server is a network boundary, so a client is held to what the protocol lets it do:

* It reaches its own env only: sessions are keyed by their socket, never by an id a client could send.
* It plays the server's tasks (``task_id`` or a seed). A task object is accepted only with
  ``allow_custom_tasks``, and never one that names host paths (Harbor task directories), so no client makes the
  server read its files. Rewards are computed here, by the env's verifier; the task API shows each task's id,
  family, prompt and difficulty, never its data (hidden tests, answers).
* A bad message is an ``error`` reply (``INVALID_JSON``, ``UNKNOWN_TYPE``, ``VALIDATION_ERROR``) and the session
  goes on; a fault of the server's own while playing one of its tasks is ``EXECUTION_ERROR`` (never blamed on the
  client); a message longer than ``max_message_bytes`` is refused unread; one longer than the WebSocket limit
  (4x that) closes the socket (code 1009). Nothing a client sends stops the server.
* With a ``token``, every endpoint but ``/health`` asks for ``Authorization: Bearer TOKEN`` (a WebSocket without
  it is refused at the handshake). It binds to 127.0.0.1 unless told otherwise.

HTTP: ``/health``, ``/schema``, ``/metadata`` (with the env's tools), ``/state``, stateless ``POST /reset`` and
``POST /step`` (a fresh env each: ``/step`` resets it with the request's ``seed``/``task_id`` and plays the one
action), OpenEnv's task API (``/list_environments``, ``/{name}/splits``, ``/{name}/tasks``, ``/{name}/num_tasks``,
``/{name}/task``, ``/{name}/task_range``; one split, ``train``, holding the env's task source), and
``/sessions`` (open sessions, envs alive and sandboxes in use: what a leak would show).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import itertools
import json
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import gymnasium as gym
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket
from pydantic import ValidationError

from ...sandbox.errors import InfrastructureError
from ..pools import env_class, pool_for
from ..task import Task
from .fair import FairGate, GateTimeout
from .forks import FORK_MESSAGES, ForkMessage, RestoreData, SnapshotStore
from .processes import STOP_GRACE_S, ProcessPlace, port_socket, raise_open_files_limit, supervise
from .wire import (
    Action,
    ErrorCode,
    Message,
    Observation,
    PublicTask,
    ResetData,
    SplitRequest,
    State,
    StepRequest,
    TaskRangeRequest,
    TaskRequest,
    error,
    reply,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
SPLIT = "train"  # the one split: the env's task source
MAX_LISTED_TASKS = 10_000  # /tasks answers at most this many; /task_range pages through more
# WebSocket close codes (RFC 6455): policy violation, going away, try again later
CLOSE_POLICY, CLOSE_GOING_AWAY, CLOSE_TRY_LATER = 1008, 1001, 1013


class CustomTaskError(ValueError):
    """A task object this server will not play."""


def check_custom_task(task: Task) -> None:
    """Refuse a client's task that would make the server touch its own file system: Harbor tasks name host
    directories (the task folder, its image's build context, its tests) that the env would read."""
    if "harbor" in task.data:
        raise CustomTaskError(f"task {task.id!r} is a Harbor task, which names directories on the server; a client "
                              "may not send one (the server's own tasks are played by task_id)")


class ClientFault(ValueError):
    """What the client asked for cannot be played (an unknown task id, a malformed task): ``VALIDATION_ERROR``."""


@dataclass
class _Session:
    id: str
    env: gym.Env | None = None
    episode_id: str | None = None
    steps: int = 0
    done: bool = False
    sandbox: bool = False  # holds a place of the sandbox gate
    episodes: int = 0  # finished
    episode_key: str | None = None  # curriculum hook: the server's own key of the episode (never the client's)


def default_workers(pool_size: int, needs_sandbox: bool) -> int:
    """Threads for blocking env work: one per sandbox, so every sandbox can be busy, and a few per core (a step
    that waits for the math verifier's processes, one per core, holds a thread while it waits)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return (pool_size if needs_sandbox else 0) + 2 * cpus + 2


class EnvServer:
    """Serves envs of ``env_id`` (made with ``gym.make(env_id, pool=..., **env_kwargs)``) to OpenEnv clients.

    Args:
        env_id: a registered selfgym id (``selfgym/Code-v0``, ...).
        env_kwargs: keyword arguments of every env (the operator's: ``tasks=`` may name a file here).
        max_sessions: sessions open at once (stateless ``/reset`` and ``/step`` count while they run).
        idle_timeout_s: a session that sends nothing for this long is closed.
        token: if set, clients must send ``Authorization: Bearer TOKEN``.
        allow_custom_tasks: accept task objects in ``reset`` (never Harbor tasks, see :func:`check_custom_task`).
        max_message_bytes: the largest message read (the default holds any action of the action space, 2**20
            characters, however JSON escapes them); the WebSocket layer drops connections past 4x this.
        pool_size, warm: the shared sandbox pool's size (default ``max_sessions``) and how many containers start
            with it (the others when first needed).
        sandbox_wait_s: the longest a reset waits for a sandbox (then ``CAPACITY_REACHED``; the session goes on).
        workers: threads for blocking env work, shared by all sessions (default :func:`default_workers`).
        curriculum: a curriculum service (:class:`selfgym.curricula.service.CurriculumService`, passed in: the
            envs' floor imports no curricula): a reset without a task plays its ``choose()``; every finished
            episode's reward, as this server's verifier gave it, goes to its ``finished()``; it adds its routes.
        place: when this server is one of several processes serving one port
            (:func:`serve_processes`), its place among them: ``max_sessions`` then
            holds for all of them together (their session counts are shared), snapshots are shared through a
            folder, and ``pool_size``, ``warm`` and ``workers`` are this process's own.

    ``app`` is the FastAPI application; run it with uvicorn (:func:`serve` does, with the WebSocket size limit).
    """

    def __init__(self, env_id: str, *, env_kwargs: Mapping[str, Any] | None = None, max_sessions: int = 16,
                 idle_timeout_s: float = 600.0, token: str | None = None, allow_custom_tasks: bool = False,
                 max_message_bytes: int = 8 << 20, pool_size: int | None = None, warm: int = 0,
                 sandbox_wait_s: float = 60.0, workers: int | None = None, curriculum: Any = None,
                 place: ProcessPlace | None = None) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        if idle_timeout_s <= 0:
            raise ValueError(f"idle_timeout_s must be positive, got {idle_timeout_s}")
        if sandbox_wait_s <= 0:
            raise ValueError(f"sandbox_wait_s must be positive, got {sandbox_wait_s}")
        if pool_size is not None and pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        env_class(env_id)  # a clear error now for an unknown id
        self.env_id = env_id
        self.env_name = env_id.rpartition("/")[2]  # the task API's {env_name}: "Code-v0"
        self.env_kwargs = dict(env_kwargs or {})
        self.max_sessions = max_sessions
        self.idle_timeout_s = idle_timeout_s
        self.token = token
        self.allow_custom_tasks = allow_custom_tasks
        self.curriculum = curriculum  # curriculum hook
        self.max_message_bytes = max_message_bytes
        self.pool_size = pool_size or max_sessions
        self.warm = min(warm, self.pool_size)
        self._sessions: dict[str, _Session] = {}
        self.place = place
        self._slots = threading.Lock()  # guards _sessions and _reserved (HTTP handlers and sockets share them)
        self._reserved = 0  # slots held by sessions still starting and by stateless requests
        self._envs: weakref.WeakSet[gym.Env] = weakref.WeakSet()  # every env made and not yet collected
        self._pool = None
        self._pool_lock = threading.Lock()
        self.sandbox_wait_s = sandbox_wait_s
        # the env the task API and /metadata read (its task source and tools); it never plays an episode
        self._catalog = gym.make(env_id, **self.env_kwargs)
        catalog = self._catalog.unwrapped
        # a sandbox at every reset, or when an action needs one (Math-v0: only with its python tool on)
        self.needs_sandbox = bool(getattr(catalog, "may_use_sandbox", True))
        self.workers = workers or default_workers(self.pool_size, self.needs_sandbox)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="selfgym-env")
        self._gate: FairGate | None = None  # made on the event loop (see _sandbox_gate)
        self._episodes = 0
        self._closed = False
        # forks: the states sessions saved (see .forks), seen by every process of the server
        self._snapshots = SnapshotStore(shared_dir=place.snapshots_dir if place is not None else None)
        self.app = self._build_app()

    # --- sessions and envs ------------------------------------------------------------------------------------
    def _shared_pool(self):
        with self._pool_lock:
            if self._pool is None:
                self._pool = pool_for(self.env_id, self.pool_size, self.env_kwargs, warm=self.warm)
            return self._pool

    def _make_env(self) -> gym.Env:
        env = gym.make(self.env_id, pool=self._shared_pool(), **self.env_kwargs)
        self._envs.add(env)
        return env

    def _reserve(self) -> bool:
        with self._slots:
            if len(self._sessions) + self._reserved >= self.max_sessions:
                return False
            if self.place is not None and not self.place.sessions.take(self.place.index, self.max_sessions):
                return False  # the other processes hold the rest
            self._reserved += 1
            return True

    def _unreserve(self) -> None:
        with self._slots:
            self._reserved -= 1
            self._free_shared_slot()

    def _free_shared_slot(self) -> None:
        if self.place is not None:
            self.place.sessions.give(self.place.index)

    def stats(self) -> dict[str, Any]:
        """Open sessions, envs still alive (made and not yet collected) and sandboxes in use (of this process; with
        several, ``sessions_per_process`` counts the sessions and starting ones of each)."""
        gc.collect()  # an env dropped but not yet collected is no leak
        pool = self._pool
        with self._slots:
            sessions, starting = len(self._sessions), self._reserved
        gate = self._gate
        stats = {"sessions": sessions, "starting": starting, "max_sessions": self.max_sessions,
                 "envs_alive": len(self._envs), "sandboxes_in_use": pool.in_use if pool is not None else 0,
                 "sandboxes": pool.members if pool is not None else 0, "pool_size": self.pool_size,
                 "waiting_for_sandbox": gate.waiting if gate is not None else 0, "episodes": self._episodes,
                 "workers": self.workers, "threads": threading.active_count(), "pid": os.getpid(),
                 "process": self.place.index if self.place else 0,
                 "processes": self.place.processes if self.place else 1}
        if self.place is not None:  # this process's numbers above; the sessions of all of them here
            stats["sessions_per_process"] = self.place.sessions.per_process()
        return stats

    def close(self) -> None:
        """Close the catalog env, the executor (work not started is dropped) and the sandbox pool (sessions are
        closed by their sockets)."""
        self._closed = True
        self._catalog.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    # --- the two places a curriculum hooks into ----------------------------------------------------------------
    def _choose_task(self, session: _Session, data: ResetData) -> dict[str, Any] | None:
        """The ``options`` a session's reset plays: the client's ``task_id`` or task object, else None (the env
        draws a task with the reset's seed). Runs on the event loop, once per reset; ``CustomTaskError`` refuses
        a task object this server will not play."""
        options = data.options()
        if options is not None and "task" in options:
            if not self.allow_custom_tasks:
                raise CustomTaskError("this server plays its own tasks only (send task_id, or a seed); start it "
                                      "with --allow-custom-tasks to accept task objects")
            check_custom_task(options["task"])
        return options

    def _episode_ended(self, session: _Session, reward: float, info: Mapping[str, Any]) -> None:
        """An episode of ``session`` ended (terminated or truncated) with the step's ``reward`` and ``info``.
        Runs on the event loop, once per finished episode, before its sandbox goes back."""
        session.episodes += 1
        self._episodes += 1

    # --- what one message does ---------------------------------------------------------------------------------
    @staticmethod
    def _reset(env: gym.Env, data: ResetData, options: dict[str, Any] | None) -> Observation:
        """Reset ``env`` (on a worker thread). What the client named and the env cannot play is a
        :class:`ClientFault`; anything else raised is the server's."""
        unwrapped = env.unwrapped
        custom = options is not None and "task" in options
        if options is not None and "task_id" in options:
            try:
                options = {"task": unwrapped.source.get(options["task_id"])}
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                raise ClientFault(_text(exc)) from None
        try:
            observation, info = env.reset(seed=data.seed, options=options)
        except (KeyError, ValueError, TypeError) as exc:
            if custom:  # the client's own task: its fault if the env cannot play it
                raise ClientFault(_text(exc)) from None
            raise
        return Observation.of_reset(observation, info, unwrapped.task, unwrapped.tool_schemas())

    @staticmethod
    def _step(env: gym.Env, action: Action) -> tuple[Observation, float, dict[str, Any]]:
        observation, reward, terminated, truncated, info = env.step(action.env_action())
        return Observation.of_step(observation, reward, terminated, truncated, info), float(reward), info

    def _state(self, session: _Session) -> State:
        task = session.env.unwrapped.task if session.env is not None else None
        return State(episode_id=session.episode_id, step_count=session.steps, env_id=self.env_id,
                     task_id=task.id if task is not None else None, done=session.done)

    async def _handle(self, session: _Session, raw: str) -> tuple[dict[str, Any], bool]:
        """The reply to one message, and whether the session ends after it."""
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            return error(ErrorCode.INVALID_JSON, f"Invalid JSON: {exc}"), False
        except RecursionError:
            return error(ErrorCode.INVALID_JSON, "Invalid JSON: nested too deeply"), False
        if not isinstance(parsed, dict):
            return error(ErrorCode.VALIDATION_ERROR, f"a message is a JSON object, not {type(parsed).__name__}"), False
        if parsed.get("type") in FORK_MESSAGES:
            return await self._fork_message(session, parsed), False
        if parsed.get("type") not in ("reset", "step", "state", "close"):
            return error(ErrorCode.UNKNOWN_TYPE, f"Unknown message type: {str(parsed.get('type'))[:100]!r}"), False
        try:
            message = Message.model_validate(parsed)
            if message.type == "close":
                return {}, True
            if message.type == "state":
                return reply("state", self._state(session).model_dump()), False
            if message.type == "reset":
                data = ResetData.model_validate(message.data)
                options = self._choose_task(session, data)
                if options is None and self.curriculum is not None:  # curriculum hook: a reset without a task
                    options = {"task": await self._run(self.curriculum.choose)}
                if not await self._take_sandbox(session):
                    return self._no_sandbox_error(), False
                try:
                    observation = await self._run(self._reset, session.env, data, options)
                except BaseException:
                    await self._give_back_sandbox(session)
                    raise
                session.episode_id = data.episode_id or uuid.uuid4().hex
                session.episode_key = uuid.uuid4().hex  # curriculum hook
                session.steps, session.done = 0, False
            else:
                action = Action.model_validate(message.data)
                observation, reward, info = await self._run(self._step, session.env, action)
                session.steps += 1
                session.done = observation.done
                if observation.done:
                    self._episode_ended(session, reward, info)
                    if self.curriculum is not None:  # curriculum hook: the reward this server's verifier gave
                        await self._run(self.curriculum.finished, session.episode_key, session.env.unwrapped.task,
                                        reward, info)
                    await self._give_back_sandbox(session)  # an ended episode holds no sandbox
            return reply("observation", observation.wire()), False
        except ValidationError as exc:
            return error(ErrorCode.VALIDATION_ERROR, "Invalid message", errors=_errors(exc)), False
        except (CustomTaskError, ClientFault) as exc:  # a task this server will not or cannot play
            return error(ErrorCode.VALIDATION_ERROR, _text(exc)), False
        except (KeyError, ValueError, TypeError) as exc:  # the client's task object (or its fields) is malformed
            if message.type == "reset" and "task" in message.data:
                return error(ErrorCode.VALIDATION_ERROR, _text(exc)), False
            log.exception("a %s of %s failed", message.type, self.env_id)
            return error(ErrorCode.EXECUTION_ERROR, f"the server failed: {type(exc).__name__}: {_text(exc)}",
                         infrastructure=True), False
        except InfrastructureError as exc:
            return error(ErrorCode.EXECUTION_ERROR, _text(exc), infrastructure=True), False
        except gym.error.ResetNeeded as exc:  # step before reset, or after the end
            return error(ErrorCode.EXECUTION_ERROR, f"ResetNeeded: {_text(exc)}"), False
        except Exception as exc:  # the env's or the server's fault, never the client's: the session goes on
            log.exception("a %s of %s failed", message.type, self.env_id)
            return error(ErrorCode.EXECUTION_ERROR, f"the server failed: {type(exc).__name__}: {_text(exc)}",
                         infrastructure=True), False

    async def _fork_message(self, session: _Session, parsed: dict[str, Any]) -> dict[str, Any]:
        """``snapshot`` / ``restore`` (see :mod:`.forks`): a snapshot id, or the session's state once restored."""
        try:
            message = ForkMessage.model_validate(parsed)
            if message.type == "snapshot":
                snapshot_id = await self._run(self._snapshots.save, session.id, session.env)
                return reply("snapshot", {"snapshot_id": snapshot_id, "step_count": session.steps})
            data = RestoreData.model_validate(message.data)
            # a restored episode plays on a sandbox: it queues for one like a reset (never past the gate)
            if not await self._take_sandbox(session):
                return self._no_sandbox_error()
            try:
                await self._run(self._snapshots.restore, data.snapshot_id, session.env)
            except BaseException:
                await self._give_back_sandbox(session)
                raise
            unwrapped = session.env.unwrapped
            session.episode_id = session.episode_id or uuid.uuid4().hex
            session.episode_key = uuid.uuid4().hex  # curriculum hook: a restored branch's outcome is its own
            session.steps, session.done = unwrapped.steps, unwrapped.done
            if session.done:  # an ended episode holds no sandbox
                await self._give_back_sandbox(session)
            return reply("state", self._state(session).model_dump())
        except ValidationError as exc:
            return error(ErrorCode.VALIDATION_ERROR, "Invalid message", errors=_errors(exc))
        except (KeyError, ValueError) as exc:  # no such snapshot; one too large to keep
            return error(ErrorCode.VALIDATION_ERROR, _text(exc))
        except InfrastructureError as exc:
            return error(ErrorCode.EXECUTION_ERROR, _text(exc), infrastructure=True)
        except Exception as exc:  # snapshot before reset, ...: the session goes on
            return error(ErrorCode.EXECUTION_ERROR, f"{type(exc).__name__}: {_text(exc)}")

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` on the shared executor (blocking env work), awaited on the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    # --- sandboxes, first come first served ------------------------------------------------------------------------
    def _sandbox_gate(self) -> FairGate:
        if self._gate is None:
            self._gate = FairGate(self.pool_size)
        return self._gate

    async def _take_sandbox(self, session: _Session) -> bool:
        """A sandbox place for the session's next episode (False: none within ``sandbox_wait_s``). A session that
        holds one keeps it unless others wait: then it goes to the back of the queue like any reset."""
        if not self.needs_sandbox:
            return True
        gate = self._sandbox_gate()
        if session.sandbox and gate.waiting:
            await self._give_back_sandbox(session)
        if session.sandbox:
            return True
        try:
            await gate.acquire(self.sandbox_wait_s)
        except GateTimeout:
            return False
        session.sandbox = True
        return True

    def _no_sandbox_error(self) -> dict[str, Any]:
        gate = self._sandbox_gate()
        return error(ErrorCode.CAPACITY_REACHED, f"no sandbox became free within {self.sandbox_wait_s:g} s "
                     f"({self.pool_size} sandboxes, {gate.waiting} sessions waiting); try again later",
                     pool_size=self.pool_size, waiting=gate.waiting)

    async def _give_back_sandbox(self, session: _Session) -> None:
        """Return the session's sandbox to the pool (on a worker: the pool resets it) and its place to the gate."""
        if not session.sandbox:
            return
        session.sandbox = False
        try:
            if session.env is not None:
                await self._run(session.env.unwrapped.release_sandbox)
        finally:
            self._sandbox_gate().release()

    # --- the WebSocket ------------------------------------------------------------------------------------------
    async def websocket(self, websocket: WebSocket) -> None:
        if not self._authorized(websocket.headers.get("authorization")):
            await websocket.close(code=CLOSE_POLICY, reason="missing or wrong bearer token")
            return
        await websocket.accept()
        if not self._reserve():
            await websocket.send_json(error(
                ErrorCode.CAPACITY_REACHED, f"the server has {self.max_sessions} sessions open; try again later",
                active_sessions=self.max_sessions, max_sessions=self.max_sessions))
            await websocket.close(code=CLOSE_TRY_LATER)
            return
        session = _Session(uuid.uuid4().hex)
        try:
            try:
                session.env = await self._run(self._make_env)
            except Exception as exc:
                log.exception("making an env of %s failed", self.env_id)
                await websocket.send_json(error(ErrorCode.FACTORY_ERROR, f"cannot make {self.env_id}: {_text(exc)}",
                                                factory_name=self.env_id))
                await websocket.close()
                return
            with self._slots:
                self._reserved -= 1
                self._sessions[session.id] = session
            await self._converse(websocket, session)
        finally:
            # the slot is free once the env is closed and its sandbox back in the pool; shielded, so that a
            # connection cancelled at shutdown still closes its env
            await asyncio.shield(self._end(session))
            with self._slots:
                if self._sessions.pop(session.id, None) is None:
                    self._reserved -= 1  # it never got past starting
                self._free_shared_slot()

    async def _converse(self, websocket: WebSocket, session: _Session) -> None:
        while True:
            try:
                async with asyncio.timeout(self.idle_timeout_s):  # no task per read, unlike wait_for
                    message = await websocket.receive()
            except TimeoutError:
                with contextlib.suppress(Exception):
                    await websocket.send_json(error(ErrorCode.SESSION_ERROR, f"the session was idle for "
                                                    f"{self.idle_timeout_s:g} s and is closed"))
                    await websocket.close(code=CLOSE_GOING_AWAY)
                return
            except Exception:  # the connection broke under the read: the session ends
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            size = len(text.encode("utf-8", "surrogatepass")) if text is not None else 0
            if text is None:
                answer, ending = error(ErrorCode.VALIDATION_ERROR, "send JSON as text frames, not binary"), False
            elif size > self.max_message_bytes:
                answer, ending = error(ErrorCode.VALIDATION_ERROR, f"the message is {size:,} bytes; this server "
                                       f"reads at most {self.max_message_bytes:,}"), False
            else:
                answer, ending = await self._handle(session, text)
            try:
                if ending:
                    await websocket.close()
                    return
                await websocket.send_json(answer)
            except Exception:  # the client left while its step ran: nobody to answer
                return

    async def _end(self, session: _Session) -> None:
        """Give the session's sandbox place back and close its env (on a worker)."""
        env, session.env = session.env, None
        self._snapshots.drop_session(session.id)
        try:
            if env is not None and not self._closed:
                await self._run(env.close)  # gives its sandbox back to the pool
        except Exception:
            log.exception("closing a session's env failed")
        finally:
            if session.sandbox:  # then its place to the next in line
                session.sandbox = False
                self._sandbox_gate().release()

    def _authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    # --- HTTP -------------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._reserve():
            raise HTTPException(503, {"message": f"the server has {self.max_sessions} sessions open; try again later",
                                      "code": ErrorCode.CAPACITY_REACHED.value})
        try:
            yield
        finally:
            self._unreserve()

    async def _one_shot(self, body: ResetData, action: Action | None) -> Observation:
        """A fresh env: reset, the one action if any, closed (a session of one request, queued for a sandbox like
        any other)."""
        session = _Session(f"http-{uuid.uuid4().hex}")
        try:
            options = self._choose_task(session, body)
            if options is None and self.curriculum is not None:  # curriculum hook: a reset without a task
                options = {"task": await self._run(self.curriculum.choose)}
            if not await self._take_sandbox(session):
                raise HTTPException(503, {"message": f"no sandbox became free within {self.sandbox_wait_s:g} s; try "
                                          "again later", "code": ErrorCode.CAPACITY_REACHED.value})
            session.env = await self._run(self._make_env)
            observation = await self._run(self._reset, session.env, body, options)
            if action is not None:
                observation, reward, info = await self._run(self._step, session.env, action)
                if observation.done:
                    self._episode_ended(session, reward, info)
                    if self.curriculum is not None:  # curriculum hook: the reward this server's verifier gave
                        await self._run(self.curriculum.finished, uuid.uuid4().hex, session.env.unwrapped.task,
                                        reward, info)
            return observation
        except (CustomTaskError, ClientFault) as exc:
            raise HTTPException(422, {"message": _text(exc), "code": ErrorCode.VALIDATION_ERROR.value}) from None
        except (KeyError, ValueError, TypeError) as exc:
            if body.task is not None:
                raise HTTPException(422, {"message": _text(exc), "code": ErrorCode.VALIDATION_ERROR.value}) from None
            raise HTTPException(500, {"message": f"the server failed: {type(exc).__name__}: {_text(exc)}",
                                      "code": ErrorCode.EXECUTION_ERROR.value}) from None
        except InfrastructureError as exc:
            raise HTTPException(503, {"message": _text(exc), "code": ErrorCode.EXECUTION_ERROR.value}) from None
        finally:
            await asyncio.shield(self._end(session))

    async def _http(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return await self._run(func, *args)
        except (KeyError, ValueError, TypeError) as exc:
            raise HTTPException(422, {"message": _text(exc), "code": ErrorCode.VALIDATION_ERROR.value}) from None

    @staticmethod
    def _check_split(split: str) -> None:
        if split != SPLIT:
            raise HTTPException(404, f"unknown split {split!r}; this server has one: {SPLIT!r}")

    def _tasks(self, split: str, start: int | None = None, stop: int | None = None) -> list[dict[str, Any]]:
        self._check_split(split)
        source = self._catalog.unwrapped.source
        stop = min(stop if stop is not None else MAX_LISTED_TASKS, (start or 0) + MAX_LISTED_TASKS)
        return [PublicTask.of(task).model_dump() for task in itertools.islice(source, start or 0, stop)]

    def _build_app(self) -> FastAPI:
        server = self

        async def authorized(request: Request) -> None:
            if not server._authorized(request.headers.get("authorization")):
                raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI):
            yield
            server.close()

        app = FastAPI(title=f"selfgym env server: {self.env_id}", lifespan=lifespan)
        guarded = [Depends(authorized)]

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "healthy"}

        @app.get("/schema", dependencies=guarded)
        async def schema() -> dict[str, Any]:
            return {"action": Action.model_json_schema(), "observation": Observation.model_json_schema(),
                    "state": State.model_json_schema()}

        @app.get("/metadata", dependencies=guarded)
        async def metadata() -> dict[str, Any]:
            from ... import __version__

            cls = env_class(server.env_id)
            return {"name": server.env_id, "description": (cls.__doc__ or "").strip().split("\n")[0],
                    "readme_content": None, "version": __version__, "author": "selfgym",
                    "documentation_url": None, "tools": server._catalog.unwrapped.tool_schemas()}

        @app.get("/state", dependencies=guarded)
        async def state() -> dict[str, Any]:
            return State(env_id=server.env_id).model_dump()

        @app.post("/reset", dependencies=guarded)
        async def reset(body: ResetData | None = None) -> dict[str, Any]:
            with server._slot():
                return (await server._one_shot(body or ResetData(), None)).wire()

        @app.post("/step", dependencies=guarded)
        async def step(body: StepRequest) -> dict[str, Any]:
            try:
                action = Action.model_validate(body.action)
            except ValidationError as exc:
                raise HTTPException(422, _errors(exc)) from None
            reset_data = ResetData.model_validate(body.model_dump(include=set(ResetData.model_fields)))
            with server._slot():
                return (await server._one_shot(reset_data, action)).wire()

        @app.get("/sessions", dependencies=guarded)
        async def sessions() -> dict[str, Any]:
            return await asyncio.get_running_loop().run_in_executor(None, server.stats)

        def check_name(env_name: str) -> None:
            if env_name.lower() != server.env_name.lower():
                raise HTTPException(404, f"unknown environment {env_name[:100]!r}; this server has "
                                         f"{server.env_name!r}")

        @app.get("/list_environments", dependencies=guarded)
        async def list_environments() -> list[str]:
            return [server.env_name]

        @app.get("/{env_name}/splits", dependencies=guarded)
        async def splits(env_name: str) -> list[dict[str, str]]:
            check_name(env_name)
            return [{"name": SPLIT, "type": SPLIT}]

        @app.post("/{env_name}/tasks", dependencies=guarded)
        async def tasks(env_name: str, body: SplitRequest) -> dict[str, Any]:
            check_name(env_name)
            found = await server._http(server._tasks, body.split)
            answer = {"tasks": found, "env_name": server.env_name}
            if server.curriculum is not None:  # curriculum hook: what it knows of these tasks
                answer["curriculum"] = await server._http(server.curriculum.task_stats, [t["id"] for t in found])
            return answer

        @app.post("/{env_name}/num_tasks", dependencies=guarded)
        async def num_tasks(env_name: str, body: SplitRequest) -> dict[str, int]:
            check_name(env_name)
            server._check_split(body.split)
            return {"num_tasks": len(server._catalog.unwrapped.source)}

        @app.post("/{env_name}/task", dependencies=guarded)
        async def task(env_name: str, body: TaskRequest) -> dict[str, Any]:
            check_name(env_name)
            found = await server._http(server._tasks, body.split, body.index, body.index + 1)
            if not found:
                raise HTTPException(400, "Invalid task index")
            return {"task": found[0]}

        @app.post("/{env_name}/task_range", dependencies=guarded)
        async def task_range(env_name: str, body: TaskRangeRequest) -> dict[str, Any]:
            check_name(env_name)
            found = await server._http(server._tasks, body.split, body.start, body.stop)
            answer = {"tasks": found}
            if server.curriculum is not None:  # curriculum hook: what it knows of these tasks
                answer["curriculum"] = await server._http(server.curriculum.task_stats, [t["id"] for t in found])
            return answer

        if server.curriculum is not None:  # curriculum hook: /curriculum and /dashboard
            server.curriculum.mount(app, guarded)

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await server.websocket(websocket)

        return app


def _text(exc: BaseException) -> str:
    """An exception's message, without the quotes ``KeyError`` puts around it."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors, without the inputs (which may be megabytes) and with JSON-safe contexts."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def serve(server: EnvServer, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info",
          sock: socket.socket | None = None) -> None:
    """Run ``server`` with uvicorn until SIGINT or SIGTERM, on ``host:port`` or on the listening socket ``sock``
    (a process of several: :func:`serve_processes`). WebSocket messages past 4x ``max_message_bytes`` close the
    connection (code 1009) before they are read in full; a stop waits at most ``STOP_GRACE_S`` for sessions to
    close."""
    import uvicorn

    raise_open_files_limit(server.max_sessions + 1024)  # a socket per session, and room for pipes, files
    config = uvicorn.Config(server.app, host=host, port=port, log_level=log_level,
                            ws_max_size=4 * server.max_message_bytes, backlog=backlog(server.max_sessions),
                            timeout_graceful_shutdown=STOP_GRACE_S,
                            # no per-message deflate: zlib was ~8% of the event loop's time per message in a
                            # profile of 64 Math-v0 sessions, and clients sit on the same machine or network
                            ws_per_message_deflate=False)
    try:
        uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)
    except KeyboardInterrupt:  # uvicorn raises the SIGINT it stopped on again once stopped; the stop is clean
        pass


def backlog(max_sessions: int) -> int:
    """Connections the kernel queues before they are accepted: all sessions may connect at once."""
    return min(max(2048, max_sessions), 65535)


def serve_processes(build: Callable[[ProcessPlace | None], EnvServer], *, processes: int, host: str = "127.0.0.1",
                    port: int = 8000, max_sessions: int, log_level: str = "info",
                    on_ready: Callable[[], None] = lambda: None) -> None:
    """Serve on ``host:port`` from ``processes`` processes, each running ``build(place)`` (see :mod:`.processes`)
    until SIGINT or SIGTERM; ``processes=1`` is one process, ``build(None)``, as :func:`serve`.

    ``build`` runs in each child (after the fork), so every child has its own envs, sandboxes and threads; it must
    honour ``place`` (pass it to :class:`EnvServer`, with its share of the sandboxes: ``place.share(pool_size)``).
    """
    if processes == 1:
        server = build(None)
        on_ready()
        serve(server, host=host, port=port, log_level=log_level)
        return

    def run_child(place: ProcessPlace, ready: Callable[[], None]) -> None:
        server = build(place)
        ready()  # at the start: returns once every process is built
        serve(server, host=host, port=port, log_level=log_level,
              sock=port_socket(host, port, backlog=backlog(max_sessions)))

    supervise(run_child, processes=processes, host=host, port=port, open_files=max_sessions + 1024 * processes,
              on_ready=on_ready)
