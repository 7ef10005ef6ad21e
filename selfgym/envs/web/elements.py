"""Reading an observation's element lines (``[12] button "Add to cart"``): what scripted solvers see of a page."""

from __future__ import annotations

import re

_ELEMENT = re.compile(r'^\s*\[(\d+)\] (\S+)(?: "((?:[^"\\]|\\.)*)")?', re.MULTILINE)


def elements(observation: str) -> list[tuple[int, str, str]]:
    """``(id, role, name)`` of every element line of an observation, in order."""
    return [(int(m[1]), m[2], (m[3] or "").replace('\\"', '"').replace("\\\\", "\\"))
            for m in _ELEMENT.finditer(observation)]


def find(observation: str, role: str, name: str | None = None, nth: int = 1) -> int | None:
    """The id of the ``nth`` element with ``role`` (and exactly ``name``, if given), or None."""
    found = [i for i, r, n in elements(observation) if r == role and (name is None or n == name)]
    return found[nth - 1] if len(found) >= nth else None
