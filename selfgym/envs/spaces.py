"""Spaces for text environments."""

from __future__ import annotations

import multiprocessing as mp
import string
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium.spaces import Text, Tuple
from gymnasium.vector.utils import (
    batch_differing_spaces,
    batch_space,
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)

MAX_TEXT_LENGTH = 1 << 20  # characters; an observation or action longer than this is cut (actions: rejected)


class UnicodeText(Text):
    """A :class:`gymnasium.spaces.Text` that holds any Unicode string of 0..``max_length`` characters.

    Gymnasium's ``Text`` checks each character against a finite charset, which model output and program output
    (any language, any symbol) cannot promise. ``sample()`` still draws from printable ASCII (uniformly, as
    ``Text`` does), so random agents and ``check_env`` work.
    """

    def __init__(self, max_length: int = MAX_TEXT_LENGTH, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=string.printable, seed=seed)
        self._code_points = np.array([ord(c) for c in self.character_list], dtype="<u4")

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask, probability)
        # Text.sample joins one str per character: 0.25 s for a string of the default million-character size
        length = self.np_random.integers(self.min_length, self.max_length + 1)
        picks = self.np_random.integers(len(self._code_points), size=length)
        return self._code_points[picks].tobytes().decode("utf-32-le")

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


# AsyncVectorEnv's shared memory stores a Text as indices into its charset, which would garble any other
# character; store Unicode code points with a length in front instead (4 bytes per character of max_length).
@create_shared_memory.register(UnicodeText)
def _create_unicode_text_shared_memory(space: UnicodeText, n: int = 1, ctx: ModuleType = mp):
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


class SharedTexts(Sequence[str]):
    """The observations of n envs in shared memory, decoded on access.

    AsyncVectorEnv reads its shared buffer once and expects a live view (as NumPy arrays are); a tuple of str
    would be frozen at creation. Deep-copying (what AsyncVectorEnv hands out with ``copy=True``) gives a tuple.
    """

    def __init__(self, rows: np.ndarray) -> None:
        self._rows = rows

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        row = self._rows[index]
        return row[1 : 1 + row[0]].tobytes().decode("utf-32-le", errors="surrogatepass")

    def __len__(self) -> int:
        return len(self._rows)

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(UnicodeText)
def _read_unicode_text_from_shared_memory(space: UnicodeText, shared_memory, n: int = 1) -> SharedTexts:
    return SharedTexts(np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length + 1)))


@write_to_shared_memory.register(UnicodeText)
def _write_unicode_text_to_shared_memory(space: UnicodeText, index: int, value: str, shared_memory) -> None:
    codes = np.frombuffer(value.encode("utf-32-le", errors="surrogatepass"), dtype=np.int32)[: space.max_length]
    row = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * (space.max_length + 1):]
    row[0] = len(codes)
    row[1 : 1 + len(codes)] = codes


class UnicodeTexts(Tuple):
    """The batch of ``n`` :class:`UnicodeText` spaces: a vector env's ``observation_space`` and ``action_space``.

    A :class:`~gymnasium.spaces.Tuple` whose members are tuples of str, as Gymnasium batches ``Text``, and also
    the live :class:`SharedTexts` view that ``AsyncVectorEnv(shared_memory=True, copy=False)`` returns.
    """

    def contains(self, x: Any) -> bool:
        return super().contains(tuple(x) if isinstance(x, SharedTexts) else x)


@batch_space.register(UnicodeText)
def _batch_unicode_text_space(space: UnicodeText, n: int = 1) -> UnicodeTexts:
    generic = batch_space.dispatch(Text)(space, n)  # Gymnasium's batching, seeds of the copies included
    return UnicodeTexts(generic.spaces, seed=generic.np_random)


@batch_differing_spaces.register(UnicodeText)
def _batch_differing_unicode_text_spaces(spaces: Sequence[UnicodeText]) -> UnicodeTexts:
    generic = batch_differing_spaces.dispatch(Text)(spaces)
    return UnicodeTexts(generic.spaces, seed=generic.np_random)
