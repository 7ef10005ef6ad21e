"""YAML files validated by a pydantic model, with errors that name the file, the line and the key."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[Model], error: type[Exception], what: str) -> Model:
    """Parse ``path`` and validate it as ``model``; every problem is one ``error`` whose lines read
    ``FILE:LINE: key.path: what is wrong`` (unknown keys get a "did you mean" and the keys allowed there).
    ``what`` describes the expected top level, e.g. ``"name:, env:, agent:, ..."``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: the file must be a mapping of keys ({what})")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for detail in exc.errors():
            loc = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
            key = ".".join(str(part) for part in loc) or "(top level)"
            message = detail["msg"]
            if detail["type"] == "extra_forbidden":
                fields = fields_at(model, loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
                message = f"unknown key{f' (did you mean {close[0]!r}?)' if close else ''}"
                message += f"; expected one of: {', '.join(fields)}" if fields else ""
            problems.append(f"{path}:{line_of(root, loc) or '?'}: {key}: {message}")
        raise error("\n".join(problems)) from None


def line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (as deep as it exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at ``loc`` inside ``model`` (nested models, lists and optionals of them)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(str(part)) if current else None
        annotation = info.annotation if info else None
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return sorted(current.model_fields)
