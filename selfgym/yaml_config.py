"""YAML files validated by a pydantic model, with errors that name the file, the line and the key."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """The base of every config read from a file: unknown keys are errors (a typo is never silently ignored),
    and values are frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def spec_of(config: type, tags: tuple[str, ...], run_sets: Mapping[str, str], doc: str,
            extra: Mapping[str, tuple[Any, Any]] | None = None) -> type[StrictModel]:
    """The YAML spec of a trainer whose config is the dataclass ``config``: ``name`` (one of ``tags``) and every
    field of ``config`` with its type (ranges included), default and ``metadata["help"]`` as description, except
    the fields in ``run_sets`` (field -> what the run sets it from); ``extra`` adds the method's own fields
    (name -> (type, pydantic ``Field``)). A spec that passes also makes a valid ``config`` (its
    ``__post_init__`` runs on the values, with the run's fields at their defaults), so the file and the trainer
    can never disagree on a default or a limit."""
    hints = typing.get_type_hints(config, include_extras=True)
    fields: dict[str, Any] = {"name": (Literal[tags], ...)}  # type: ignore[valid-type]
    for field in dataclasses.fields(config):
        if field.name in run_sets:
            continue
        if field.default is not dataclasses.MISSING:
            default = Field(default=field.default, description=field.metadata.get("help"))
        else:
            default = Field(default_factory=field.default_factory, description=field.metadata.get("help"))
        fields[field.name] = (hints[field.name], default)
    fields.update(extra or {})
    own = {"name", *(extra or {})}

    def check(self: BaseModel) -> BaseModel:
        config(**self.model_dump(exclude=own))
        return self

    spec = create_model(f"{config.__name__}Spec", __base__=StrictModel, __doc__=doc,
                        __validators__={"_config_accepts": model_validator(mode="after")(check)}, **fields)
    spec.run_sets = dict(run_sets)
    return spec


def load_yaml_model(path: str | Path, model: type[Model], error: type[Exception], what: str,
                    check: Callable[[Model], list[tuple[tuple, str]]] | None = None) -> Model:
    """Parse ``path`` and validate it as ``model``; every problem is one ``error`` whose lines read
    ``FILE:LINE: key.path: what is wrong`` (unknown keys get a "did you mean" and the keys allowed there).
    ``what`` describes the expected top level, e.g. ``"name:, env:, agent:, ..."``. ``check`` looks deeper into
    a valid model (parameters that classes declare by their signatures) and returns ``(key path, message)``
    problems, reported the same way."""
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
        result = model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for detail in exc.errors():
            loc = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
            if detail["type"] == "union_tag_invalid":  # the tag names none of the members: say which exist
                ctx = detail["ctx"]
                loc += (ctx["discriminator"].strip("'"),)
                tags = [tag.strip(" '") for tag in ctx["expected_tags"].split(",")]
                close = difflib.get_close_matches(str(ctx["tag"]), tags, n=1)
                detail = {**detail, "msg": f"{ctx['tag']!r} is not one of {', '.join(tags)}"
                                          f"{f' (did you mean {close[0]!r}?)' if close else ''}"}
            line, shown = locate(root, loc)
            key = ".".join(str(part) for part in shown) or "(top level)"
            message = detail["msg"]
            if detail["type"] == "extra_forbidden":
                fields = fields_at(model, loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
                message = f"unknown key{f' (did you mean {close[0]!r}?)' if close else ''}"
                message += f"; expected one of: {', '.join(fields)}" if fields else ""
            problems.append(f"{path}:{line or '?'}: {key}: {message}")
        raise error("\n".join(problems)) from None
    found = check(result) if check is not None else []
    if found:
        lines = []
        for loc, message in found:
            line, shown = locate(root, loc)
            lines.append(f"{path}:{line or '?'}: {'.'.join(str(part) for part in shown)}: {message}")
        raise error("\n".join(lines))
    return result


def locate(node: yaml.Node | None, loc: tuple) -> tuple[int | None, tuple]:
    """The 1-based line of the YAML node at ``loc`` (as deep as it exists), and ``loc`` as the file spells it:
    without the parts pydantic adds that the file does not have (the tag of a union member, ``method.grpo``)."""
    line = node.start_mark.line + 1 if node is not None else None
    shown: list = []
    for position, key in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            if match is None:
                if position < len(loc) - 1:
                    continue  # not in the file: a union member's tag in pydantic's location
                shown.append(key)  # the unknown or missing key itself
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            shown += list(loc[position:])
            break
        shown.append(key)
    return line, tuple(shown)


def fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at ``loc`` inside ``model`` (nested models, lists and optionals of them, and the member of
    a tagged union that pydantic's location names by its tag, as in ``("method", "grpo")``)."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        owner = next((c for c in candidates if str(part) in c.model_fields), None)
        if owner is not None:
            candidates = _models_in(owner.model_fields[str(part)].annotation)
        else:
            candidates = [c for c in candidates if _tag(c) == str(part)]
        if not candidates:
            return []
    return sorted({name for c in candidates for name in c.model_fields})


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation admits: itself, or the members of its Optional / list / Union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += [m for m in _models_in(arg) if m not in found]
    return found


def _tag(model: type[BaseModel]) -> str | None:
    """The value of a union member's ``name: Literal[...]`` tag (its discriminator), if it has one."""
    field = model.model_fields.get("name")
    values = getattr(field.annotation, "__args__", ()) if field else ()
    return str(values[0]) if len(values) == 1 else None
