"""Tool calls as actions: each env declares its tools with JSON schemas, and an OpenAI-style tool call is an action.

An env's :attr:`~selfgym.envs.TextEnv.tools` lists :class:`Tool` objects (name, description, JSON schema of the
arguments); ``Tool.openai()`` is the form the OpenAI API, chat templates (``apply_chat_template(tools=...)``) and
TRL take. ``env.step`` accepts a tool call besides text: ``{"name": "bash", "arguments": {"command": "ls"}}``, the
OpenAI form ``{"type": "function", "function": {"name": ..., "arguments": "<JSON text>"}}``, or a
:class:`ToolCall`. The env turns it into the text action it stands for (``bash(command)`` is the command,
``submit_code(code)`` a fenced code block, ...), so a tool call can do nothing a text reply could not. A call the
env cannot read (unknown tool, arguments that are not JSON or do not match the schema) raises
:class:`ToolCallError`, whose message the env gives the agent as an observation with reward 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_ARGUMENTS_CHARS = 256_000  # a tool call's arguments as JSON text; longer is refused before parsing
_JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


class ToolCallError(ValueError):
    """A tool call the env cannot play; ``str(error)`` is the message for the agent."""


@dataclass(frozen=True)
class Tool:
    """One tool an env offers: its name, what it does, and the JSON schema of its arguments (an object whose
    properties are strings, integers, numbers or booleans, optionally with ``enum``)."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def openai(self) -> dict[str, Any]:
        """The tool as the OpenAI API and chat templates take it: ``{"type": "function", "function": {...}}``."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": json.loads(json.dumps(self.parameters))}}


def tool(name: str, description: str, required: Mapping[str, Mapping[str, Any]] | None = None,
         optional: Mapping[str, Mapping[str, Any]] | None = None) -> Tool:
    """A :class:`Tool` whose arguments are ``required`` and ``optional`` properties (name: JSON schema)."""
    properties = {**(required or {}), **(optional or {})}
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties), "required": list(required or {}),
                              "additionalProperties": False}
    return Tool(name, description, schema)


@dataclass(frozen=True)
class ToolCall:
    """A call of a tool by name with its arguments (a JSON object); ``id`` is the caller's (OpenAI's
    ``tool_call_id``), kept so that the answer can name the call."""

    name: str
    arguments: Mapping[str, Any]
    id: str | None = None

    def openai(self) -> dict[str, Any]:
        """The call in OpenAI's form, arguments as JSON text."""
        call = {"type": "function", "function": {"name": self.name, "arguments": json.dumps(dict(self.arguments))}}
        return {"id": self.id, **call} if self.id else call

    @classmethod
    def parse(cls, raw: Any) -> ToolCall:
        """A tool call from any of the forms in the module docstring; :class:`ToolCallError` saying what is wrong."""
        if isinstance(raw, ToolCall):
            return raw
        if not isinstance(raw, Mapping):
            raise ToolCallError(f"A tool call must be an object with a name and arguments, not {type(raw).__name__}.")
        call_id = raw.get("id")
        body = raw
        if "function" in raw:
            if raw.get("type", "function") != "function":
                raise ToolCallError(f"Only function tool calls are supported, not {raw.get('type')!r}.")
            body = raw["function"]
            if not isinstance(body, Mapping):
                raise ToolCallError("A tool call's 'function' must be an object with a name and arguments.")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ToolCallError("A tool call needs the tool's name (a non-empty string).")
        arguments = body.get("arguments", {})
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            if len(arguments) > MAX_ARGUMENTS_CHARS:
                raise ToolCallError(f"The arguments of {name} are {len(arguments):,} characters of JSON; the limit "
                                    f"is {MAX_ARGUMENTS_CHARS:,}.")
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolCallError(f"The arguments of {name} are not valid JSON ({exc.msg} at character "
                                    f"{exc.pos}). Send them as a JSON object.") from None
        if not isinstance(arguments, Mapping):
            raise ToolCallError(f"The arguments of {name} must be a JSON object, not {type(arguments).__name__}.")
        if call_id is not None and not isinstance(call_id, str):
            call_id = str(call_id)
        return cls(name, dict(arguments), call_id)


def is_tool_call(action: Any) -> bool:
    """Whether ``action`` is meant as a tool call (not text): a :class:`ToolCall` or a mapping."""
    return isinstance(action, (ToolCall, Mapping))


def check_call(call: ToolCall, tools: tuple[Tool, ...] | list[Tool]) -> Tool:
    """The tool ``call`` names, its arguments checked against the tool's schema (:class:`ToolCallError` if not)."""
    by_name = {t.name: t for t in tools}
    if call.name not in by_name:
        offered = ", ".join(by_name) or "none"
        raise ToolCallError(f"There is no tool {call.name!r}. The tools are: {offered}.")
    found = by_name[call.name]
    schema = found.parameters
    properties = schema.get("properties", {})
    missing = [key for key in schema.get("required", []) if key not in call.arguments]
    if missing:
        raise ToolCallError(f"{call.name} needs the argument(s) {', '.join(missing)}.")
    unknown = [key for key in call.arguments if key not in properties]
    if unknown:
        raise ToolCallError(f"{call.name} takes no argument(s) {', '.join(map(repr, unknown))}; it takes "
                            f"{', '.join(properties) or 'none'}.")
    for key, value in call.arguments.items():
        _check_value(call.name, key, value, properties[key])
    return found


def _check_value(tool_name: str, key: str, value: Any, schema: Mapping[str, Any]) -> None:
    kind = schema.get("type")
    expected = _JSON_TYPES.get(kind)
    # bool is an int in Python, not in JSON: true is no integer argument
    if expected is not None and (not isinstance(value, expected) or (isinstance(value, bool) and kind != "boolean")):
        raise ToolCallError(f"The argument {key} of {tool_name} must be a JSON {kind}, got {json.dumps(value)[:80]}.")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(choice) for choice in schema["enum"])
        raise ToolCallError(f"The argument {key} of {tool_name} must be one of {choices}, "
                            f"got {json.dumps(value)[:80]}.")


def string(description: str) -> dict[str, Any]:
    """The JSON schema of a string argument."""
    return {"type": "string", "description": description}


def integer(description: str) -> dict[str, Any]:
    """The JSON schema of an integer argument."""
    return {"type": "integer", "description": description}
