"""Tool calls in a local model's text: rendered into the prompt by its chat template, read back from its reply.

A tokenizer that declares how its replies are parsed (transformers' ``response_template``, or the older
``response_schema``; TRL's ``add_response_schema`` sets one for known templates) is read with its own
``parse_response``. Otherwise the Hermes form is read, which Qwen 2.5/3, Hermes, SmolLM3 and most open tool-calling
models write: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``. A block that is not a JSON object with a
name is still a call (with what could be read of it), so the env answers it as a malformed call, never as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .policy import PolicyError, tool_call

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_NAME = re.compile(r'"name"\s*:\s*"([^"]*)"')
_PROBE = "selfgym_probe_tool_7c1e"


def parse_tool_calls(text: str, tokenizer: Any = None) -> tuple[str, list[dict[str, Any]]]:
    """``text`` without its tool calls, and the calls (OpenAI form, arguments as dicts where they are JSON)."""
    if tokenizer is not None and (getattr(tokenizer, "response_template", None)
                                  or getattr(tokenizer, "response_schema", None)):
        try:
            parsed = tokenizer.parse_response(text)
        except Exception:  # a reply the template's parser cannot read: try the common form
            parsed = None
        if isinstance(parsed, Mapping) and parsed.get("tool_calls"):
            calls = [c.get("function", c) for c in parsed["tool_calls"] if isinstance(c, Mapping)]
            return str(parsed.get("content") or ""), [tool_call(str(c.get("name", "")), c.get("arguments", {}))
                                                       for c in calls]
    calls = []
    for body in _HERMES.findall(text):
        try:
            found = json.loads(body)
        except json.JSONDecodeError:
            found = None
        if isinstance(found, Mapping) and isinstance(found.get("name"), str):
            calls.append(tool_call(found["name"], found.get("arguments", {})))
        else:  # keep what can be read: the env says what is wrong with the rest
            name = _NAME.search(body)
            calls.append(tool_call(name.group(1) if name else "", body))
    if not calls:
        return text, []
    return _HERMES.sub("", text).strip(), calls


def check_template_renders_tools(tokenizer: Any, name: str) -> None:
    """A :class:`PolicyError` unless ``tokenizer``'s chat template shows the tools it is given (many templates
    silently drop them, and the model would never learn what it may call)."""
    probe = [{"type": "function", "function": {"name": _PROBE, "description": "probe",
                                               "parameters": {"type": "object", "properties": {}}}}]
    try:
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tools=probe, tokenize=False,
                                                 add_generation_prompt=True)
    except Exception as exc:
        raise PolicyError(f"the chat template of {name} cannot render tools: {exc}") from exc
    if _PROBE not in rendered:
        raise PolicyError(f"the chat template of {name} does not show the tools it is given; use a model whose "
                          "template supports tool calling (e.g. Qwen2.5/Qwen3, Llama 3.1, SmolLM3)")

