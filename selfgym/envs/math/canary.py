"""The canary gate: a reasoning-gym generator is used only if its scoring refuses answers that are never right.

Before a :class:`~.generators.ReasoningGymSource` serves tasks, :func:`gate` scores *canaries* against its first
:data:`CANARY_TASKS` tasks with the scoring Math-v0 uses (selfgym's :mod:`.strict` rules, then the generator's own
``score_answer``). A canary that earns the reward (a score of 1; Math-v0's reward is 1 or 0, and the partial
credit many scorers give any non-empty answer, 0.01 to 0.05, only shows in ``info["score"]``) is a *hit*, and a
generator with a hit is refused with :class:`LaxScorerError`, naming the canary, so no task of it is ever drawn;
the fix is a rule in :mod:`.strict`. The canaries, as the scorer receives them (what :func:`~.answers.extract_answer` takes out of a
reply):

* ``garbage``, ``empty``, ``hedge``, ``long`` (:data:`NEVER_RIGHT`): junk words, an empty answer and an empty box,
  several answers at once (``True False``, every option ``A, B, C, D``), 5,000 characters; never right, so any
  acceptance is a hit (unless the canary is some task's gold);
* ``typed`` (:data:`MAYBE_RIGHT`): short answers of common types (``0``, ``1``, ``True``, ``yes``, ``A``...), right
  for some tasks: a hit when accepted on two tasks with different golds (a scorer that cannot tell them apart);
* ``wrong-value``: another task's gold, the right type with the wrong value; a hit when accepted (not for the
  generators in :data:`MANY_ANSWERS`, whose tasks share right answers);
* ``hedge`` from golds: this task's gold listed with another's (``gold, other``, ``other, gold``, ``other or
  gold``, one per line), so a scorer that reads one part of an answer is caught; ``long``: the gold after or
  before 6,000 characters of junk.

The gate scores trusted text only (constants and the generator's own golds), so it runs in the calling process;
results are cached per dataset. ``tests/test_audit_math_code.py`` runs it over every generator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CANARY_TASKS = 6  # tasks of each generator scored: enough for two different golds of a True/False generator
NEVER_RIGHT: tuple[tuple[str, str], ...] = (
    ("garbage", "banana"), ("garbage", "I don't know"), ("garbage", "?"), ("garbage", "null"),
    ("empty", ""), ("empty", "\\boxed{}"), ("empty", " "),
    ("hedge", "True False"), ("hedge", "True, False"), ("hedge", "True or False"), ("hedge", "yes, no"),
    ("hedge", "A, B, C, D"), ("hedge", "A or B or C or D"), ("hedge", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
    ("long", "x" * 5000), ("long", "1" * 5000), ("long", "banana " * 800),
)
MAYBE_RIGHT: tuple[str, ...] = ("0", "1", "-1", "2", "True", "False", "yes", "no", "A", "B", "None", "[]", "{}")
_JUNK = "x " * 3000
# Generators whose tasks have many right answers that a scorer checks (any valid placement of queens, any
# expression of the same four numbers, any sequence of legal knight moves that swaps the knights: tasks may share a
# board, and which boards come out depends on the interpreter's hash seed): another task's gold may be a right
# answer to this one, so it is no wrong-value canary.
MANY_ANSWERS = frozenset({"n_queens", "puzzle24", "knight_swap"})


@dataclass(frozen=True)
class CanaryHit:
    """A canary the scoring accepted.

    Attributes:
        kind: ``garbage``, ``empty``, ``hedge``, ``long``, ``typed`` or ``wrong-value``.
        answer: the canary (cut to 200 characters).
        task: the index of the task that accepted it.
        gold: that task's gold answer (cut to 200 characters).
        score: the score it got.
    """

    kind: str
    answer: str
    task: int
    gold: str | None
    score: float

    def describe(self) -> str:
        return (f"{self.kind} answer {self.answer[:60]!r} scored {self.score:g} on task {self.task} "
                f"(gold {str(self.gold)[:60]!r})")


Score = Callable[[Mapping[str, Any], str], float]


def canary_hits(entries: Sequence[Mapping[str, Any]], score: Score, *, wrong_values: bool = True) -> list[CanaryHit]:
    """The canaries ``score(entry, answer)`` (in [0, 1]) accepts with 1 on the tasks ``entries`` (each a
    generator entry: ``{"question", "answer": gold or None, "metadata"}``); ``wrong_values=False`` leaves out
    the other tasks' golds as wrong values (for generators whose tasks have many right answers)."""
    golds = [None if entry.get("answer") is None else str(entry["answer"]) for entry in entries]
    known = {gold.strip() for gold in golds if gold is not None}
    hits: list[CanaryHit] = []

    def accepted(index: int, answer: str) -> float | None:
        value = float(score(entries[index], answer))
        return value if value >= 1.0 else None

    for index, gold in enumerate(golds):
        for kind, answer in NEVER_RIGHT:
            if answer.strip() in known:
                continue  # some task's right answer: judged as a typed canary instead
            value = accepted(index, answer)
            if value is not None:
                hits.append(CanaryHit(kind, answer[:200], index, gold, value))
        if gold is None:
            continue
        others = list(dict.fromkeys(g for g in golds if g is not None and g.strip() != gold.strip()))
        for other in others[:2]:
            candidates = [("wrong-value", other)] if wrong_values else []
            candidates += [("hedge", f"{gold}, {other}"), ("hedge", f"{other}, {gold}"),
                          ("hedge", f"{other} or {gold}"), ("hedge", f"{other}\n{gold}")]
            for kind, answer in candidates:
                value = accepted(index, answer)
                if value is not None:
                    hits.append(CanaryHit(kind, answer[:200], index, gold, value))
        for answer in (_JUNK + gold, gold + " " + _JUNK):
            value = accepted(index, answer)
            if value is not None:
                hits.append(CanaryHit("long", answer[:200], index, gold, value))
    for answer in list(MAYBE_RIGHT) + [a for _, a in NEVER_RIGHT if a.strip() in known]:
        takers = [index for index, gold in enumerate(golds) if gold is not None and accepted(index, answer)]
        if len({golds[index].strip() for index in takers}) >= 2:  # type: ignore[union-attr]
            hits.append(CanaryHit("typed", answer[:200], takers[0], golds[takers[0]], 1.0))
    return hits


class LaxScorerError(ValueError):
    """A generator's scoring accepted a canary: its rewards could be forged, so it is not used."""

    def __init__(self, name: str, hits: Sequence[CanaryHit]) -> None:
        self.name, self.hits = name, list(hits)
        kinds = sorted({hit.kind for hit in hits})
        super().__init__(
            f"reasoning-gym generator {name!r} is refused: its scorer gives full marks to answers that are never "
            f"right ({len(hits)} canaries, kinds {', '.join(kinds)}; e.g. {hits[0].describe()}), so its rewards "
            f"could be forged. Use another generator, or add a rule for it in selfgym/envs/math/strict.py.")


_lock = threading.Lock()
_checked: dict[str, list[CanaryHit]] = {}


def gate(name: str, key: str, entries: Callable[[], Sequence[Mapping[str, Any]]], score: Score) -> None:
    """Raise :class:`LaxScorerError` when the canaries hit generator ``name``'s scoring (``entries()``: its first
    tasks; results cached under ``key``, the dataset's)."""
    with _lock:
        if key not in _checked:
            _checked[key] = canary_hits(entries(), score, wrong_values=name not in MANY_ANSWERS)
        hits = _checked[key]
    if hits:
        raise LaxScorerError(name, hits)


def forget() -> None:
    """Forget the cached gate results (after changing rules, in tests)."""
    with _lock:
        _checked.clear()
