"""Parameters declared by signatures: a class's ``__init__`` (an env's, a curriculum's) is the one declaration of
what it takes, and :func:`check_arguments` reads it to check a mapping from a file before anything is built.

Types are checked with pydantic (a dict given for a dataclass such as ``Limits`` is checked field by field, its
``__post_init__`` included); ranges are declared in the signature with ``Annotated`` (the aliases below), so the
file's reader and the constructor agree on them.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from annotated_types import Ge, Gt, Interval
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

AtLeastOne = Annotated[int, Ge(1)]
NonNegativeInt = Annotated[int, Ge(0)]
NonNegative = Annotated[float, Ge(0)]
Positive = Annotated[float, Gt(0)]
Fraction = Annotated[float, Interval(ge=0, le=1)]

# (location inside the mapping, what is wrong with it)
Problem = tuple[tuple[str | int, ...], str]


def documented(default: Any, help: str, factory: Callable[[], Any] | None = None) -> Any:  # noqa: A002
    """A config dataclass field with its documentation in ``metadata["help"]`` (as TRL's configs have it): what
    ``--help``-style tools and the YAML specs generated from a config (:func:`selfgym.yaml_config.spec_of`) read.
    ``factory`` makes a mutable default."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def declared_parameters(function: Callable[..., Any], skip: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
    """The parameters ``function`` takes by keyword, less ``skip`` (those its caller passes itself)."""
    return {name: p for name, p in inspect.signature(function).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in skip and name != "self"}


def check_arguments(function: Callable[..., Any], arguments: Mapping[str, Any],
                    skip: tuple[str, ...] = ()) -> list[Problem]:
    """What is wrong with calling ``function(**arguments)`` as its signature declares it: unknown names (with a
    did-you-mean and the names allowed), wrong types, values out of their declared range. Empty: nothing found
    (a constructor may still refuse a combination of values, such as a lower bound above an upper one)."""
    declared = declared_parameters(function, skip)
    problems: list[Problem] = []
    for name in arguments:
        if name not in declared:
            close = difflib.get_close_matches(str(name), list(declared), n=1)
            problems.append(((name,), f"unknown parameter{f' (did you mean {close[0]!r}?)' if close else ''}; "
                                      f"expected one of: {', '.join(sorted(declared))}"))
    known = {name: value for name, value in arguments.items() if name in declared}
    if not known:
        return problems
    model = _model_for(function, tuple(sorted(known)))
    try:
        model.model_validate(known)
    except ValidationError as exc:
        for detail in exc.errors():
            message = detail["msg"].removeprefix("Value error, ")
            if detail["type"] == "unexpected_keyword_argument" and len(detail["loc"]) == 2:
                message = _unknown_field(function, *detail["loc"])  # a misspelt field of a dataclass (limits)
            problems.append((tuple(detail["loc"]), message))
    return problems


def missing_arguments(function: Callable[..., Any], arguments: Mapping[str, Any],
                      skip: tuple[str, ...] = ()) -> list[Problem]:
    """The parameters ``function`` requires (no default) that ``arguments`` does not give."""
    return [((), f"missing parameter {name!r} (required)") for name, p in declared_parameters(function, skip).items()
            if p.default is p.empty and name not in arguments]


def _unknown_field(function: Callable[..., Any], name: str, key: Any) -> str:
    fields: list[str] = []
    for arg in (_hints(function).get(name), *typing.get_args(_hints(function).get(name))):
        if dataclasses.is_dataclass(arg):
            fields = [f.name for f in dataclasses.fields(arg)]
    close = difflib.get_close_matches(str(key), fields, n=1)
    return (f"unknown field{f' (did you mean {close[0]!r}?)' if close else ''}"
            f"{'; expected one of: ' + ', '.join(sorted(fields)) if fields else ''}")


@functools.lru_cache(maxsize=256)
def _model_for(function: Callable[..., Any], names: tuple[str, ...]) -> type[BaseModel]:
    """A pydantic model of ``function``'s parameters ``names`` (made once: a config checks itself on every
    construction)."""
    hints = _hints(function)
    fields: dict[str, Any] = {name: (_checkable(hints.get(name, Any)), ...) for name in names}
    return create_model(f"{getattr(function, '__qualname__', 'call')}", __base__=_Arguments, **fields)


class _Arguments(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    """``function``'s annotations resolved; one that cannot be (a name imported only for type checkers) is Any."""
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:  # noqa: BLE001 - resolve one by one below
        pass
    namespace = vars(sys.modules.get(function.__module__, typing))
    hints = {}
    for name, annotation in getattr(function, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, dict(namespace)) if isinstance(annotation, str) else annotation  # noqa: S307
        except Exception:  # noqa: BLE001
            hints[name] = Any
    return hints


def _checkable(hint: Any) -> Any:
    """``hint`` as pydantic can check a file's value against it: a union offering both a structured type (a
    dataclass, a model) and a plain mapping reads a mapping as the structured type, so its fields get checked;
    a type pydantic cannot build a check for is Any."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        structured = [a for a in args if dataclasses.is_dataclass(a) or (isinstance(a, type) and issubclass(a, BaseModel))]
        if structured:
            kept = tuple(a for a in args if typing.get_origin(a) not in (Mapping, dict) and a not in (Mapping, dict))
            hint = typing.Union[kept] if len(kept) > 1 else kept[0]
    try:
        create_model("probe", __base__=_Arguments, value=(hint, ...))
    except Exception:  # noqa: BLE001 - e.g. a Protocol that is not runtime-checkable
        return Any
    return hint
