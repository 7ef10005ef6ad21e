"""How ``selfgym/Remote-v0`` speaks to a server: selfgym's own wire types (:mod:`.wire`), or those of any other
OpenEnv server, read from its ``/schema`` and ``/metadata``.

An OpenEnv server declares its action and observation as JSON schemas (pydantic models on its side). For one that
is not selfgym's, :class:`OpenEnvTypes` maps what ``env.step`` takes onto its action and what it answers onto text:

* A text action goes to the action's one string field (``{"message": text}`` for the echo env that ``openenv init``
  writes); a dict action whose keys are action fields goes as it is; a tool call (a :class:`~selfgym.envs.ToolCall`
  or ``{"name": ..., "arguments": {...}}``, OpenAI's form too) goes to the server's MCP tools: as its
  ``call_tool`` action when that is its action type, else as an MCP ``tools/call`` on the session.
* The observation's text is its ``text`` field; else an MCP tool call's result (or error); else its one string
  field, when the others are numbers or flags; else a rendering of its fields (one ``name: value`` line each, in
  the schema's order, empty ones left out, values other than text as sorted JSON), so the same observation is the
  same text. ``info["observation"]`` holds the observation as the server sent it
  (``info["tool_result"]`` the result of an MCP tool call).
* The reward is the server's (0 when it sends none); its ``done`` ends the episode as ``terminated`` (OpenEnv has
  no separate truncation).

What a server cannot take is a :class:`RemoteEnvError` naming the server, the field and what to send instead, before
anything is sent where the client can tell, else from the server's validation errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..task import Task
from ..tools import ToolCall, ToolCallError
from .wire import Observation

OPENENV_BASE_FIELDS = ("done", "reward", "metadata")  # OpenEnv's Observation fields that are not the observation


class RemoteEnvError(RuntimeError):
    """An error of the server or of what was sent to it: ``code`` is one of OpenEnv's codes (``VALIDATION_ERROR``,
    ...) or ``HTTP nnn``; ``server`` the server's URL (and name), ``field`` the field at fault, if one is, and
    ``errors`` the server's validation errors (pydantic's form), if it sent them."""

    def __init__(self, code: str, message: str, *, server: str | None = None, field: str | None = None,
                 errors: Any = None) -> None:
        where = f"the env server at {server}: " if server else ""
        super().__init__(f"{where}{message} ({code})")
        self.code = code
        self.server = server
        self.field = field
        self.errors = errors


@dataclass
class Reply:
    """One answer of the server, as the Gymnasium API hands it on."""

    text: str
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    task: Task | None = None
    tools: list[dict[str, Any]] | None = None


class SelfgymTypes:
    """A ``selfgym env-server``: text and tool calls as :class:`~selfgym.envs.remote.wire.Action`, observations as
    :class:`~selfgym.envs.remote.wire.Observation` (with ``truncated``, ``info``, the task and its tools)."""

    native = True

    def __init__(self, server: str) -> None:
        self.server = server
        self.name = server

    def encode(self, action: Any) -> tuple[dict[str, Any], str]:
        """The WebSocket message for ``action``, and how the transcript shows it."""
        if isinstance(action, ToolCall):
            call = {"name": action.name, "arguments": dict(action.arguments)}
            return {"type": "step", "data": {"tool_call": call}}, json.dumps(call)[:2000]
        if isinstance(action, Mapping):
            shown = json.dumps(dict(action), default=str)[:2000]
            return {"type": "step", "data": {"tool_call": dict(action)}}, shown
        text = as_text(action)
        return {"type": "step", "data": {"text": text}}, text

    def decode(self, data: dict[str, Any], *, at_reset: bool) -> Reply:
        try:
            observation = Observation.from_wire(data)
        except (ValueError, TypeError) as exc:
            raise RemoteEnvError("VALIDATION_ERROR", f"its observation is not selfgym's: {_first_line(exc)}",
                                 server=self.server) from None
        return Reply(observation.text, float(observation.reward or 0.0),
                     observation.done and not observation.truncated, observation.truncated, observation.info,
                     observation.task.task() if observation.task else None, observation.tools if at_reset else None)


class OpenEnvTypes:
    """Any other OpenEnv server, through the action and observation schemas it serves (see the module docstring).

    Args:
        server: the server's URL (for messages).
        schema: its ``/schema`` answer (``action`` and ``observation`` JSON schemas).
        metadata: its ``/metadata`` answer (``name`` names it in messages and tasks).
    """

    native = False

    def __init__(self, server: str, schema: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
        self.action_schema = dict(schema.get("action") or {})
        self.observation_schema = dict(schema.get("observation") or {})
        self.metadata = dict(metadata or {})
        self.name = str(self.metadata.get("name") or "openenv")
        self.server = f"{server} ({self.name})"
        properties = self.action_schema.get("properties") or {}
        self.action_fields = [name for name in properties if name != "metadata"]
        self.calls_tools = _is_call_tool_action(properties)
        self.text_field = None if self.calls_tools else _one_string_field(self.action_schema)
        self.observation_fields = [name for name in self.observation_schema.get("properties") or {}
                                   if name not in OPENENV_BASE_FIELDS]
        self.tools: list[dict[str, Any]] = []  # OpenAI form, from the session's MCP tools/list

    # --- actions --------------------------------------------------------------------------------------------------
    def encode(self, action: Any) -> tuple[dict[str, Any], str]:
        """The WebSocket message for ``action``, and how the transcript shows it (see the module docstring)."""
        if isinstance(action, Mapping) and not isinstance(action, ToolCall) and set(action) <= set(
                self.action_fields) | {"metadata"} and not self.calls_tools:
            return {"type": "step", "data": dict(action)}, json.dumps(dict(action), default=str)[:2000]
        if isinstance(action, (ToolCall, Mapping)):
            return self._tool_call(action)
        text = as_text(action)
        if self.text_field is None:
            raise RemoteEnvError("VALIDATION_ERROR", f"its action has no one text field for a text action; send "
                                 f"{self._what_to_send()}", server=self.server)
        return {"type": "step", "data": {self.text_field: text}}, text

    def _tool_call(self, action: Any) -> tuple[dict[str, Any], str]:
        try:
            call = ToolCall.parse(action)
        except ToolCallError as exc:
            unknown = sorted(map(str, set(action) - set(self.action_fields))) if isinstance(action, Mapping) else []
            if unknown:
                named = ", ".join(map(repr, unknown)) + (" is not a field" if len(unknown) == 1 else " are not fields")
                raise RemoteEnvError(
                    "VALIDATION_ERROR", f"{named} of its action ({self.describe_action()}); send "
                    f"{self._what_to_send()}", server=self.server, field=unknown[0]) from None
            raise RemoteEnvError("VALIDATION_ERROR", f"the tool call is malformed ({exc})", server=self.server,
                                 field="name") from None
        shown = json.dumps({"name": call.name, "arguments": dict(call.arguments)}, default=str)[:2000]
        if self.calls_tools:
            return {"type": "step", "data": {"type": "call_tool", "tool_name": call.name,
                                             "arguments": dict(call.arguments)}}, shown
        if not self.tools:
            raise RemoteEnvError(
                "VALIDATION_ERROR", f"it offers no MCP tools, so the tool call {call.name!r} has nowhere to go; "
                f"send {self._what_to_send()}", server=self.server, field="name")
        return {"type": "mcp", "data": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                        "params": {"name": call.name, "arguments": dict(call.arguments)}}}, shown

    def _what_to_send(self) -> str:
        text = f"text (it goes to {self.text_field!r}) or " if self.text_field else ""
        tools = f", or a tool call of {', '.join(self.tool_names())}" if self.tools else ""
        return f"{text}a dict with its action's fields ({self.describe_action()}){tools}"

    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.tools]

    def describe_action(self) -> str:
        """The action's fields as ``name: type (required)``, for messages."""
        properties = self.action_schema.get("properties") or {}
        required = set(self.action_schema.get("required") or [])
        return ", ".join(f"{name}: {_type_name(properties[name])}{' (required)' if name in required else ''}"
                         for name in self.action_fields) or "none"

    def refused(self, message: str, errors: Any) -> RemoteEnvError:
        """The server's validation error for an action, as a :class:`RemoteEnvError` naming the field."""
        fields = []
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, Mapping):
                loc = ".".join(str(part) for part in error.get("loc") or [])
                fields.append((loc, str(error.get("msg", ""))))
        detail = "; ".join(f"{loc or 'action'}: {msg}" for loc, msg in fields[:5]) or message
        return RemoteEnvError("VALIDATION_ERROR", f"it refused the action ({detail}); send {self._what_to_send()}",
                              server=self.server, field=fields[0][0] if fields else None)

    # --- observations ---------------------------------------------------------------------------------------------
    def decode(self, data: dict[str, Any], *, at_reset: bool) -> Reply:
        observation = data.get("observation")
        if not isinstance(observation, dict):
            raise RemoteEnvError("VALIDATION_ERROR", f"its reply has no observation object: {str(data)[:200]}",
                                 server=self.server)
        raw = data.get("reward")
        try:
            reward = float(raw or 0.0)
        except (TypeError, ValueError):
            reward = math.nan
        if not math.isfinite(reward):
            raise RemoteEnvError("VALIDATION_ERROR", f"its reward {str(raw)[:100]!r} is not a finite number",
                                 server=self.server, field="reward")
        return Reply(self.text_of(observation), reward, bool(data.get("done", False)), False,
                     {"observation": observation}, tools=list(self.tools) if at_reset else None)

    def decode_tool_result(self, data: dict[str, Any]) -> Reply:
        """An MCP ``tools/call`` answer: its text, reward 0; the episode goes on."""
        if data.get("error"):
            return Reply(tool_error(data["error"]), info={"tool_result": data})
        return Reply(render_tool_result(data.get("result")), info={"tool_result": data.get("result")})

    def text_of(self, observation: Mapping[str, Any]) -> str:
        """The observation's text (see the module docstring)."""
        if isinstance(observation.get("text"), str):
            return observation["text"]
        if "tool_name" in observation and ("result" in observation or "error" in observation):  # CallToolObservation
            if observation.get("error"):
                return tool_error(observation["error"])
            return render_tool_result(observation.get("result"))
        strings = [name for name in self.observation_fields
                   if _is_string(self.observation_schema["properties"][name])]
        if len(strings) == 1 and isinstance(observation.get(strings[0]), str) and all(
                value is None or isinstance(value, (bool, int, float))
                for name, value in observation.items() if name != strings[0]):
            return observation[strings[0]]  # the text, beside numbers and flags (the echo env's length)
        order = self.observation_fields + sorted(set(observation) - set(self.observation_fields))
        return render_fields({name: observation[name] for name in order if name in observation})

    def task(self, text: str, seed: int | None, episode: int) -> Task:
        """The task a foreign server plays has no id of its own: the server's name and the seed (or episode)."""
        return Task(f"{self.name}/{'seed-' + str(seed) if seed is not None else 'episode-' + str(episode)}",
                    self.name, text)


def as_text(action: Any) -> str:
    """A text action as ``str`` (bytes that are not UTF-8 arrive as lone surrogates, which envs answer as
    malformed text)."""
    if isinstance(action, (bytes, bytearray)):
        return bytes(action).decode("utf-8", "surrogateescape")
    if isinstance(action, str):
        return str(action)
    raise TypeError(f"a remote env takes text, a dict or a tool call as its action, not {type(action).__name__}")


def openai_tools(mcp_tools: Any) -> list[dict[str, Any]]:
    """MCP ``tools/list`` entries (``name``, ``description``, ``inputSchema``) in the OpenAI form."""
    tools = []
    for tool in mcp_tools if isinstance(mcp_tools, list) else []:
        if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
            parameters = tool.get("inputSchema") or tool.get("input_schema") or {"type": "object", "properties": {}}
            tools.append({"type": "function", "function": {"name": tool["name"],
                                                           "description": str(tool.get("description") or ""),
                                                           "parameters": parameters}})
    return tools


def render_fields(fields: Mapping[str, Any]) -> str:
    """``name: value`` lines, empty values left out; text as it is (on the next lines when it has several),
    anything else as JSON with sorted keys."""
    lines = []
    for name, value in fields.items():
        if not _shown(value):
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False,
                                                               default=str)
        lines.append(f"{name}:\n{text}" if "\n" in text else f"{name}: {text}")
    return "\n".join(lines)


def tool_error(error: Any) -> str:
    """What the agent reads of a tool call that failed (unknown tool, bad arguments, the tool raised)."""
    return f"Tool error: {error.get('message', error) if isinstance(error, Mapping) else error}"


def render_tool_result(result: Any) -> str:
    """An MCP tool result as text: its text contents, else its structured content, else JSON; a result that is an
    error (``is_error``) as :func:`tool_error`."""
    if isinstance(result, str):
        return result
    if isinstance(result, Mapping) and (result.get("is_error") or result.get("isError")):
        return tool_error(render_tool_result({key: value for key, value in result.items()
                                              if key not in ("is_error", "isError")}))
    if isinstance(result, Mapping):
        content = result.get("content")
        if isinstance(content, list):
            texts = [item["text"] for item in content
                     if isinstance(item, Mapping) and isinstance(item.get("text"), str)]
            if texts:
                return "\n".join(texts)
        for key in ("structured_content", "structuredContent", "data"):
            if result.get(key) is not None:
                value = result[key]
                return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return json.dumps(result, sort_keys=True, ensure_ascii=False, default=str)


def _shown(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


def _is_call_tool_action(properties: Mapping[str, Any]) -> bool:
    """OpenEnv's ``CallToolAction`` (``type: "call_tool"``, ``tool_name``, ``arguments``): an env whose actions are
    its MCP tools."""
    kind = properties.get("type") or {}
    return "tool_name" in properties and "arguments" in properties and (
        kind.get("const") == "call_tool" or kind.get("default") == "call_tool")


def _is_string(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "string":
        return True
    return any(isinstance(option, Mapping) and option.get("type") == "string" for option in schema.get("anyOf", []))


def _one_string_field(schema: Mapping[str, Any]) -> str | None:
    """The action's field that text goes to: its one string field, else its one required string field."""
    properties = schema.get("properties") or {}
    strings = [name for name, spec in properties.items() if name != "metadata" and _is_string(spec)]
    if len(strings) == 1:
        return strings[0]
    required = [name for name in strings if name in (schema.get("required") or [])]
    return required[0] if len(required) == 1 else None


def _type_name(schema: Mapping[str, Any]) -> str:
    if "type" in schema:
        return str(schema["type"])
    options = [str(option.get("type", "?")) for option in schema.get("anyOf", []) if isinstance(option, Mapping)]
    return " | ".join(options) or "any"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
