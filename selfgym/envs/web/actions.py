"""The text actions of ``selfgym/Web-v0`` and their parser.

``click(12)``, ``type(12, "text")``, ``select(12, "option")``, ``goto("http://…")``, ``scroll(up)`` or
``scroll(down)``, ``back()`` and ``answer("…")``. Arguments are Python literals (so quotes and escapes work as in
Python); element ids may be written ``12`` or ``[12]``; ``scroll``'s direction and ``goto``'s URL may be unquoted.
Model output often wraps the action in prose or a code block: the parser takes the code block's content if there
is one, then the *last* action call in the text. Whatever it cannot read gives an :class:`ActionError` whose
message says what was expected; the environment turns that into an observation.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

ACTION_HELP = (
    "Actions (one per turn): click(ID), type(ID, \"text\") (end the text with \\n to press Enter), "
    "select(ID, \"option\"), goto(\"URL\"), scroll(up) or scroll(down), back(), answer(\"text\") (ends the task; "
    "answer(\"done\") when the task asks for no information). ID is the number in brackets before an element."
)
ARITY = {"click": 1, "type": 2, "select": 2, "goto": 1, "scroll": 1, "back": 0, "answer": 1}
USAGE = {
    "click": "click(ID), e.g. click(12)",
    "type": 'type(ID, "text"), e.g. type(7, "blue shoes")',
    "select": 'select(ID, "option"), e.g. select(9, "Express")',
    "goto": 'goto("URL"), e.g. goto("http://shop.localhost:7770/cart")',
    "scroll": "scroll(up) or scroll(down)",
    "back": "back()",
    "answer": 'answer("text"), e.g. answer("42")',
}
_CALL = re.compile(r"\b(" + "|".join(ARITY) + r")\s*\(")
_FENCE = re.compile(r"```[a-zA-Z]*\n?(.*?)```", re.DOTALL)


class ActionError(ValueError):
    """An action the parser could not read; ``str(error)`` is the message for the agent."""


@dataclass(frozen=True)
class Action:
    """A parsed action: ``kind`` is one of :data:`ARITY`; ``element`` for click/type/select; ``text`` otherwise."""

    kind: str
    element: int | None = None
    text: str | None = None


def parse_action(text: str) -> Action:
    """Read one action from model output; raises :class:`ActionError` with a helpful message."""
    fenced = _FENCE.findall(text)
    body = fenced[-1] if fenced else text
    starts = list(_CALL.finditer(body))
    if not starts:
        raise ActionError(f"No action found in {_preview(text)}. {ACTION_HELP}")
    match = starts[-1]
    kind = match[1]
    args = _arguments(kind, body[match.end():])
    if len(args) != ARITY[kind]:
        raise ActionError(f"{kind} takes {ARITY[kind]} argument(s), got {len(args)}. Use {USAGE[kind]}.")
    if kind in ("click", "type", "select"):
        element = _element_id(kind, args[0])
        text_arg = None if kind == "click" else _string(kind, args[1])
        return Action(kind, element=element, text=text_arg)
    if kind == "back":
        return Action(kind)
    value = args[0]
    if kind == "scroll":
        direction = value if isinstance(value, str) else None
        if direction is None or direction.strip().lower() not in ("up", "down"):
            raise ActionError(f"scroll needs a direction, up or down. Use {USAGE['scroll']}.")
        return Action(kind, text=direction.strip().lower())
    return Action(kind, text=_string(kind, value))


class _Bare(str):
    """An unquoted argument (a bare word or URL), kept as text."""


def _arguments(kind: str, rest: str) -> list:
    """The literal arguments of the call whose text (after the opening parenthesis) is ``rest``."""
    for end in (i for i, char in enumerate(rest) if char == ")"):
        inside = rest[:end]
        try:
            node = ast.parse(f"f({inside})", mode="eval").body
        except SyntaxError:
            continue
        if node.keywords:
            raise ActionError(f"{kind} takes no keyword arguments. Use {USAGE[kind]}.")
        return [_literal(kind, arg) for arg in node.args]
    closing = rest.rfind(")")
    if closing >= 0 and kind in ("goto", "answer", "scroll"):  # an unquoted URL or answer: take the raw text
        return [_Bare(rest[:closing].strip())]
    raise ActionError(f"Could not read the arguments of {kind}(...): check quotes and parentheses. Use {USAGE[kind]}.")


def _literal(kind: str, node: ast.expr):
    if isinstance(node, ast.Name):
        return _Bare(node.id)
    if isinstance(node, ast.List) and len(node.elts) == 1:
        node = node.elts[0]
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ActionError(f"The arguments of {kind} must be numbers or quoted strings. Use {USAGE[kind]}.") from None


def _element_id(kind: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ActionError(f"{kind} needs an element id (the number in brackets, e.g. 12), got {value!r}. "
                          f"Use {USAGE[kind]}.")
    return int(value)


def _string(kind: str, value) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ActionError(f"{kind} needs a quoted string, got {value!r}. Use {USAGE[kind]}.")


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 80 else text[:77] + "...")


def resolve_goto(url: str, current_url: str, allowed_origins: list[str]) -> str:
    """The absolute URL ``goto`` may open, or an :class:`ActionError` saying which sites the task allows.

    A path (``/cart``) is taken relative to the current page. Only ``http`` URLs on one of ``allowed_origins``
    (``scheme://host:port`` of the task's sites) pass: no ``file:``, ``chrome:``, ``javascript:`` or ``data:`` URL,
    no other host or port (the container's DevTools port included).
    """
    from urllib.parse import urljoin, urlsplit

    target = url.strip()
    if not target:
        raise ActionError(f"goto needs a URL. Use {USAGE['goto']}.")
    if "://" not in target and not target.startswith("/") and re.match(r"^[a-z0-9.-]+(:\d+)?(/|$)", target):
        target = "http://" + target  # shop.localhost:7770/cart
    absolute = urljoin(current_url, target)
    parts = urlsplit(absolute)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme not in ("http", "https") or origin not in allowed_origins or parts.username or parts.password:
        raise ActionError(f"goto can only open pages of this task's sites: {', '.join(allowed_origins)}. "
                          f"{absolute[:200]!r} is not one of them.")
    return absolute
