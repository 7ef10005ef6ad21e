"""Spaces for text environments."""

from __future__ import annotations

import string
from typing import Any

from gymnasium.spaces import Text

MAX_TEXT_LENGTH = 1 << 20  # characters; an observation or action longer than this is cut (actions: rejected)


class UnicodeText(Text):
    """A :class:`gymnasium.spaces.Text` that holds any Unicode string of 0..``max_length`` characters.

    Gymnasium's ``Text`` checks each character against a finite charset, which model output and program output
    (any language, any symbol) cannot promise. ``sample()`` still draws from printable ASCII, so random agents
    and ``check_env`` work.
    """

    def __init__(self, max_length: int = MAX_TEXT_LENGTH, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=string.printable, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"
