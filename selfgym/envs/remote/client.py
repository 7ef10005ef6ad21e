"""``selfgym/Remote-v0``: a Gymnasium env whose episodes run on an OpenEnv server: ``selfgym env-server``, or any
other that speaks OpenEnv's protocol (:mod:`.wire`), whatever its action and observation types.

``gym.make("selfgym/Remote-v0", url="http://127.0.0.1:8000")`` behaves like the env the server serves: ``reset(seed=,
options={"task_id": ...} | {"task": Task})``, the five-tuple, text, dict or tool-call actions,
``render_mode="ansi"``, vector envs. Each env holds one WebSocket session, opened at its first ``reset`` and closed by ``close()``. At the
first reset the client reads the server's ``/schema`` and ``/metadata``: a selfgym server's types are selfgym's own
(``truncated`` and the verifier's ``info`` come through); any other server's are mapped as
:mod:`.adapter` says (a text action goes to its one string field, its observation becomes text, the raw
observation is ``info["observation"]``, tool calls go to its MCP tools).

A lost connection, or an error the server's sandboxes caused, raises :class:`~selfgym.sandbox.InfrastructureError`
(the rollout loop replays such episodes, never counts them); anything else the server refuses is a
:class:`RemoteEnvError` naming the server, the field and what to send.

Forks: on a selfgym server, ``clone_state()`` has the server save the episode and returns a
:class:`RemoteSnapshot` (an id; the state stays on the server), ``restore_state(snapshot)`` puts it back, and
``fork()`` opens a new session restored from it (see :mod:`.forks`).

:class:`RemoteTasks` reads a server's tasks through OpenEnv's task API (a :class:`~selfgym.envs.TaskSource`, e.g. for
a TRL dataset or a curriculum): their public part only, which is all a server gives out.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ...params import AtLeastOne, Positive
from ...sandbox.errors import InfrastructureError
from ..spaces import MAX_TEXT_LENGTH, UnicodeText
from ..task import Task
from .adapter import OpenEnvTypes, RemoteEnvError, SelfgymTypes, openai_tools
from .wire import ErrorCode, PublicTask

__all__ = ["RemoteEnv", "RemoteEnvError", "RemoteTasks", "request_json"]


def http_url(url: str) -> str:
    """``url`` as the server's HTTP base (``ws://`` becomes ``http://``; no trailing slash)."""
    url = url.rstrip("/")
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if url.startswith(ws):
            return http + url[len(ws):]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"an env server URL starts with http://, https://, ws:// or wss://, got {url!r}")
    return url


def ws_url(url: str) -> str:
    """The WebSocket endpoint (``/ws``) of the server at ``url``."""
    scheme, _, rest = http_url(url).partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


def request_json(url: str, path: str, body: Any = None, *, token: str | None = None, timeout_s: float = 60.0) -> Any:
    """``GET`` (no body) or ``POST`` a JSON body to the server; its JSON answer. HTTP errors are
    :class:`RemoteEnvError` with the server's detail; an unreachable server is a ``ConnectionError``."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(http_url(url) + path, data=data, headers=headers,
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:2000]
        with_code = _detail(detail)
        raise RemoteEnvError(with_code[0] or f"HTTP {exc.code}", with_code[1], server=http_url(url)) from None
    except urllib.error.URLError as exc:
        raise ConnectionError(f"cannot reach the env server at {http_url(url)}: {exc.reason}") from None


def _detail(body: str) -> tuple[str | None, str]:
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return None, body
    if isinstance(detail, dict):
        return detail.get("code"), str(detail.get("message", detail))
    return None, str(detail)


class Session:
    """One OpenEnv WebSocket session: ``reset``, ``step`` and ``state`` messages and their replies."""

    def __init__(self, url: str, *, token: str | None = None, connect_timeout_s: float = 30.0,
                 message_timeout_s: float = 600.0, max_message_bytes: int = 64 << 20) -> None:
        from websockets.sync.client import connect

        self.url = ws_url(url)
        self.message_timeout_s = message_timeout_s
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:  # entered as a context manager, the way every websockets release takes it
            self._ws = connect(self.url, additional_headers=headers, open_timeout=connect_timeout_s,
                               max_size=max_message_bytes, proxy=None).__enter__()
        except Exception as exc:
            raise InfrastructureError(f"cannot open a session on the env server at {self.url}: {exc}") from exc

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message`` and return the ``data`` of the reply; errors as the module docstring says."""
        from websockets.exceptions import WebSocketException

        try:
            self._ws.send(json.dumps(message))
            raw = self._ws.recv(timeout=self.message_timeout_s)
        except (WebSocketException, OSError, TimeoutError) as exc:
            self.close()
            raise InfrastructureError(f"the session with the env server at {self.url} was lost: {exc}") from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            raise RemoteEnvError("INVALID_JSON", f"its reply is not JSON: {str(raw)[:200]!r}",
                                 server=self.url) from None
        data = answer.get("data", {}) if isinstance(answer, dict) else {}
        if not isinstance(data, dict):
            raise RemoteEnvError("INVALID_JSON", f"its reply's data is not an object: {str(raw)[:200]!r}",
                                 server=self.url)
        if answer.get("type") == "error":
            code, text = str(data.get("code", "UNKNOWN")), str(data.get("message", "unknown error"))
            if data.get("infrastructure") or code in (ErrorCode.CAPACITY_REACHED.value, ErrorCode.SESSION_ERROR.value,
                                                       ErrorCode.FACTORY_ERROR.value):
                raise InfrastructureError(f"the env server at {self.url}: {text} ({code})")
            raise RemoteEnvError(code, text, server=self.url, errors=data.get("errors"))
        return data

    def close(self) -> None:
        ws, self._ws = getattr(self, "_ws", None), None
        if ws is not None:
            try:
                ws.send(json.dumps({"type": "close"}))
            except Exception:
                pass  # the server may be gone already
            ws.close()


@dataclass(frozen=True)
class RemoteSnapshot:
    """A handle to an episode state that a selfgym env server keeps (``snapshot_id``), and this client's view of the
    episode then (the task's public part, the transcript, the tools)."""

    url: str
    snapshot_id: str
    task: Task | None
    done: bool
    transcript: tuple[tuple[str, str], ...]
    tools: list[dict[str, Any]] | None


class RemoteEnv(gym.Env[str, str]):
    """A Gymnasium env played on an OpenEnv server (see the module docstring).

    Args:
        url: the server, ``http://host:port`` (or ``ws://``).
        token: the server's bearer token, if it has one.
        render_mode: ``"ansi"`` for the transcript.
        connect_timeout_s, message_timeout_s: time to open the session, and to wait for one reply.
        max_message_bytes: the largest reply read.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, url: str, *, token: str | None = None, render_mode: str | None = None,
                 connect_timeout_s: Positive = 30.0, message_timeout_s: Positive = 600.0,
                 max_message_bytes: AtLeastOne = 64 << 20) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.url = http_url(url)
        self.token = token
        self.render_mode = render_mode
        self._timeouts = (connect_timeout_s, message_timeout_s, max_message_bytes)
        self.observation_space = UnicodeText(MAX_TEXT_LENGTH)
        self.action_space = UnicodeText(MAX_TEXT_LENGTH)
        self.task: Task | None = None
        self.done = False
        self.transcript: list[tuple[str, str]] = []
        self._tools: list[dict[str, Any]] | None = None
        self._session: Session | None = None
        self._types: SelfgymTypes | OpenEnvTypes | None = None
        self._playing = False  # an episode was reset on the session that is open
        self._episodes = 0

    # --- Gymnasium API --------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task", "task_id"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; expected 'task' or 'task_id'")
        types = self.types()
        data: dict[str, Any] = {}
        if seed is not None:  # the server's env is seeded like a local one: later draws follow from it
            data["seed"] = seed
        task = options.get("task")
        if task is not None:
            if not types.native:
                raise RemoteEnvError("VALIDATION_ERROR", "it is not a selfgym server and plays its own episodes, "
                                     "not a selfgym Task; reset with a seed (or a task_id, if its reset takes "
                                     "one)", server=types.server, field="task")
            task = task if isinstance(task, Task) else Task.from_dict(task)
            data["task"] = task.to_dict()
        elif "task_id" in options:
            data["task_id"] = str(options["task_id"])
        reply = types.decode(self._request({"type": "reset", "data": data}), at_reset=True)
        self._episodes += 1
        if types.native:
            self.task = task if task is not None else reply.task
        else:
            self.task = types.task(reply.text, seed, self._episodes)
        self._tools = reply.tools
        self.done = False
        self._playing = True
        self.transcript = [("task", reply.text)]
        return reply.text, reply.info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        if not self._playing or self._session is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.done:
            raise gym.error.ResetNeeded("the episode has ended; call reset() before step()")
        types = self.types()
        if isinstance(action, np.str_):
            action = str(action)
        message, shown = types.encode(action)
        try:
            data = self._request(message)
        except RemoteEnvError as exc:
            if isinstance(types, OpenEnvTypes) and exc.code == ErrorCode.VALIDATION_ERROR.value:
                raise types.refused(str(exc), exc.errors) from None
            raise
        if message["type"] == "mcp":
            reply = types.decode_tool_result(data)
        else:
            reply = types.decode(data, at_reset=False)
        self.done = reply.terminated or reply.truncated
        self.transcript += [("action", shown), ("observation", reply.text)]
        return reply.text, reply.reward, reply.terminated, reply.truncated, reply.info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        header = f"== {self.task.family} / {self.task.id} ==" if self.task else "== no episode =="
        return header + "\n" + "\n".join(f"[{who}]\n{text}" for who, text in self.transcript) + "\n"

    def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            session.close()
        super().close()

    # --- what a policy or trainer asks of an env ----------------------------------------------------------------------
    def types(self) -> SelfgymTypes | OpenEnvTypes:
        """How this client speaks to the server, read once from its ``/schema`` and ``/metadata`` (see
        :mod:`.adapter`)."""
        if self._types is None:
            schema = request_json(self.url, "/schema", token=self.token)
            action = (schema.get("action") or {}) if isinstance(schema, dict) else {}
            if {"text", "tool_call"} <= set(action.get("properties") or {}):
                self._types = SelfgymTypes(self.url)
            else:
                metadata = request_json(self.url, "/metadata", token=self.token)
                self._types = OpenEnvTypes(self.url, schema, metadata if isinstance(metadata, dict) else {})
        return self._types

    def tool_schemas(self) -> list[dict[str, Any]]:
        """The server env's tools in the OpenAI form: a selfgym server's from its last reset (else its
        ``/metadata``), another's from its MCP ``tools/list``."""
        if self._tools is None:
            types = self.types()
            if types.native:
                self._tools = list(request_json(self.url, "/metadata", token=self.token).get("tools", []))
            else:
                self._request({"type": "state"})  # opens the session, where the tools are listed
                self._tools = list(types.tools)
        return self._tools

    def state(self) -> dict[str, Any]:
        """The session's state on the server (``episode_id``, ``step_count``, ``task_id``, ``done``)."""
        if self._session is None:
            raise gym.error.ResetNeeded("call reset() first: the session opens with the first episode")
        return self._request({"type": "state"})

    @property
    def source(self) -> RemoteTasks:
        """The server's tasks (public part), through the task API."""
        return RemoteTasks(self.url, token=self.token)

    # --- forks: the server keeps the state, this client a handle to it (see .forks) -----------------------------------
    def clone_state(self) -> RemoteSnapshot:
        """A snapshot of the episode, kept by the server (a selfgym env server only); restore it with
        :meth:`restore_state` in this env or another one of the same server, while this session is open."""
        if not self._playing or self._session is None:
            raise gym.error.ResetNeeded("call reset() before clone_state(): there is no episode to save")
        if not self.types().native:
            raise RemoteEnvError("UNKNOWN_TYPE", "it is not a selfgym env server, so it keeps no snapshots",
                                 server=self.url)
        data = self._request({"type": "snapshot"})
        return RemoteSnapshot(self.url, str(data["snapshot_id"]), self.task, self.done, tuple(self.transcript),
                              None if self._tools is None else list(self._tools))

    def restore_state(self, snapshot: RemoteSnapshot) -> None:
        """Put the server's env of this session at the point ``snapshot`` saved; the next step plays on from there."""
        if not isinstance(snapshot, RemoteSnapshot):
            raise TypeError(f"restore_state takes a RemoteSnapshot from clone_state(), not {type(snapshot).__name__}")
        if snapshot.url != self.url:
            raise ValueError(f"the snapshot is kept by {snapshot.url}; this env plays on {self.url}")
        self._request({"type": "restore", "data": {"snapshot_id": snapshot.snapshot_id}})
        self.task, self.done, self.transcript = snapshot.task, snapshot.done, list(snapshot.transcript)
        self._tools = None if snapshot.tools is None else list(snapshot.tools)
        self._playing = True

    def fork(self) -> RemoteEnv:
        """A new session of the same server in this episode's state (the server forks its env): independent of
        this one from now on. The caller closes it."""
        snapshot = self.clone_state()
        connect_timeout_s, message_timeout_s, max_bytes = self._timeouts
        child = RemoteEnv(self.url, token=self.token, render_mode=self.render_mode, connect_timeout_s=connect_timeout_s,
                          message_timeout_s=message_timeout_s, max_message_bytes=max_bytes)
        child._types = self._types
        try:
            child.restore_state(snapshot)
        except BaseException:
            child.close()
            raise
        return child

    def __getstate__(self) -> dict[str, Any]:  # a socket does not pickle: a copy opens its own session on reset
        state = self.__dict__.copy()
        state["_session"] = None
        state["task"] = None
        state["_playing"] = False
        return state

    # --- the wire -------------------------------------------------------------------------------------------------------
    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            connect_timeout_s, message_timeout_s, max_bytes = self._timeouts
            self._session = Session(self.url, token=self.token, connect_timeout_s=connect_timeout_s,
                                    message_timeout_s=message_timeout_s, max_message_bytes=max_bytes)
            self._playing = False
            types = self.types()
            if not types.native:
                types.tools = self._list_tools()
        try:
            return self._session.request(message)
        except InfrastructureError:  # the session is over: the next reset opens another
            session, self._session, self.task, self._playing = self._session, None, None, False
            session.close()
            raise

    def _list_tools(self) -> list[dict[str, Any]]:
        """The session's MCP tools (OpenEnv's ``mcp`` message, ``tools/list``); none where the server has none."""
        try:
            answer = self._session.request({"type": "mcp", "data": {"jsonrpc": "2.0", "id": 0,
                                                                     "method": "tools/list", "params": {}}})
        except RemoteEnvError:  # an older server, or one without MCP: UNKNOWN_TYPE
            return []
        result = answer.get("result") if isinstance(answer.get("result"), dict) else {}
        return openai_tools(result.get("tools"))


class RemoteTasks:
    """The tasks of an OpenEnv server, through its task API (split ``train`` by default): a
    :class:`~selfgym.envs.TaskSource` of public tasks (id, family, prompt, difficulty; no data)."""

    PAGE = 500

    def __init__(self, url: str, *, token: str | None = None, split: str = "train") -> None:
        self.url = http_url(url)
        self.token = token
        self.split = split
        self.env_name = request_json(self.url, "/list_environments", token=token)[0]
        self.family = self.env_name

    def __len__(self) -> int:
        return int(self._post("num_tasks", {})["num_tasks"])

    def task(self, index: int) -> Task:
        """The task at ``index`` of the split."""
        try:
            found = self._post("task", {"index": index})["task"]
        except RemoteEnvError as exc:
            raise IndexError(f"no task {index} in {self.env_name}/{self.split}: {exc}") from None
        return PublicTask(**found).task()

    def sample(self, rng: np.random.Generator) -> Task:
        return self.task(int(rng.integers(len(self))))

    def get(self, task_id: str) -> Task:
        for task in self:
            if task.id == task_id:
                return task
        raise KeyError(f"no task {task_id!r} in {self.env_name}/{self.split} at {self.url}")

    def __iter__(self) -> Iterator[Task]:
        start = 0
        while True:
            page = self._post("task_range", {"start": start, "stop": start + self.PAGE})["tasks"]
            yield from (PublicTask(**raw).task() for raw in page)
            if len(page) < self.PAGE:
                return
            start += self.PAGE

    def _post(self, endpoint: str, body: dict[str, Any]) -> Any:
        return request_json(self.url, f"/{self.env_name}/{endpoint}", {"split": self.split, **body}, token=self.token)

    def __repr__(self) -> str:
        return f"RemoteTasks({self.url!r}, {self.env_name!r}, split={self.split!r})"
