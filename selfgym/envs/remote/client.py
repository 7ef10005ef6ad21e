"""``selfgym/Remote-v0``: a Gymnasium env whose episodes run on an OpenEnv server (``selfgym env-server`` or any
other that speaks the protocol in :mod:`.wire`).

``gym.make("selfgym/Remote-v0", url="http://127.0.0.1:8000")`` behaves like the env the server serves: ``reset(seed=,
options={"task_id": ...} | {"task": Task})``, the five-tuple (``truncated`` comes from the observation's
``truncated``; a server that sends none ends episodes as ``terminated``), text or tool-call actions,
``render_mode="ansi"``, vector envs. Each env holds one WebSocket session, opened at its first ``reset`` and
closed by ``close()``. A lost connection, or an error the server's sandboxes caused, raises
:class:`~selfgym.sandbox.InfrastructureError` (the rollout loop replays such episodes, never counts them); any other
error reply is a :class:`RemoteEnvError` naming the server's code.

:class:`RemoteTasks` reads a server's tasks through OpenEnv's task API (a :class:`~selfgym.envs.TaskSource`, e.g. for
a TRL dataset or a curriculum): their public part only, which is all a server gives out.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ...sandbox.errors import InfrastructureError
from ..spaces import MAX_TEXT_LENGTH, UnicodeText
from ..task import Task
from ..tools import ToolCall
from .wire import ErrorCode, Observation, PublicTask


class RemoteEnvError(RuntimeError):
    """An error reply of the server: ``code`` is one of OpenEnv's codes (``VALIDATION_ERROR``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code


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
        raise RemoteEnvError(with_code[0] or f"HTTP {exc.code}", with_code[1]) from None
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
        answer = json.loads(raw)
        data = answer.get("data", {})
        if answer.get("type") == "error":
            code, text = str(data.get("code", "UNKNOWN")), str(data.get("message", "unknown error"))
            if data.get("infrastructure") or code in (ErrorCode.CAPACITY_REACHED.value, ErrorCode.SESSION_ERROR.value,
                                                       ErrorCode.FACTORY_ERROR.value):
                raise InfrastructureError(f"the env server at {self.url}: {text} ({code})")
            raise RemoteEnvError(code, text)
        return data

    def close(self) -> None:
        ws, self._ws = getattr(self, "_ws", None), None
        if ws is not None:
            try:
                ws.send(json.dumps({"type": "close"}))
            except Exception:
                pass  # the server may be gone already
            ws.close()


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
                 connect_timeout_s: float = 30.0, message_timeout_s: float = 600.0,
                 max_message_bytes: int = 64 << 20) -> None:
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

    # --- Gymnasium API --------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task", "task_id"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; expected 'task' or 'task_id'")
        data: dict[str, Any] = {}
        if seed is not None:  # the server's env is seeded like a local one: later draws follow from it
            data["seed"] = seed
        task = options.get("task")
        if task is not None:
            task = task if isinstance(task, Task) else Task.from_dict(task)
            data["task"] = task.to_dict()
        elif "task_id" in options:
            data["task_id"] = str(options["task_id"])
        observation = Observation.from_wire(self._request({"type": "reset", "data": data}))
        self.task = task if task is not None else (observation.task.task() if observation.task else None)
        self._tools = observation.tools
        self.done = False
        self.transcript = [("task", observation.text)]
        return observation.text, observation.info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        if self.task is None or self._session is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.done:
            raise gym.error.ResetNeeded("the episode has ended; call reset() before step()")
        data = self._action(action)
        observation = Observation.from_wire(self._request({"type": "step", "data": data}))
        truncated = observation.truncated
        terminated = observation.done and not truncated
        self.done = observation.done
        shown = data.get("text") if "text" in data else json.dumps(data["tool_call"])[:2000]
        self.transcript += [("action", shown), ("observation", observation.text)]
        return observation.text, float(observation.reward or 0.0), terminated, truncated, observation.info

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
    def tool_schemas(self) -> list[dict[str, Any]]:
        """The server env's tools in the OpenAI form (from its last reset, else from its ``/metadata``)."""
        if self._tools is None:
            self._tools = list(request_json(self.url, "/metadata", token=self.token).get("tools", []))
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

    def __getstate__(self) -> dict[str, Any]:  # a socket does not pickle: a copy opens its own session on reset
        state = self.__dict__.copy()
        state["_session"] = None
        state["task"] = None
        return state

    # --- the wire -------------------------------------------------------------------------------------------------------
    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            connect_timeout_s, message_timeout_s, max_bytes = self._timeouts
            self._session = Session(self.url, token=self.token, connect_timeout_s=connect_timeout_s,
                                    message_timeout_s=message_timeout_s, max_message_bytes=max_bytes)
        try:
            return self._session.request(message)
        except InfrastructureError:  # the session is over: the next reset opens another
            session, self._session, self.task = self._session, None, None
            session.close()
            raise

    @staticmethod
    def _action(action: Any) -> dict[str, Any]:
        if isinstance(action, ToolCall):
            return {"tool_call": {"name": action.name, "arguments": dict(action.arguments)}}
        if isinstance(action, Mapping):
            return {"tool_call": dict(action)}
        if isinstance(action, (bytes, bytearray)):
            # text that is not UTF-8 reaches the env as lone surrogates, which it answers as malformed text
            return {"text": bytes(action).decode("utf-8", "surrogateescape")}
        if isinstance(action, np.str_):
            return {"text": str(action)}
        if not isinstance(action, str):
            raise TypeError(f"a remote env takes text or a tool call as its action, not {type(action).__name__}")
        return {"text": action}


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
