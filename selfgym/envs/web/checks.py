"""Programmatic checks of a web task's outcome, WebArena-style: the answer, the final URL, the sites' databases.

A check (``Task.data["check"]``) has one or more parts, all of which must pass:

* ``answer``: ``exact`` (the normalised answer equals one of these), ``must_include`` (it contains each of these) or
  ``number`` (the first number in the answer equals this one; ``$1,299.00`` reads as 1299);
* ``url``: a regular expression that must match the final page's path and query in full (``/orders/1007``);
* ``sql``: queries against a site's database after the episode, each with the rows it must return.

Normalising lower-cases, collapses white space and drops surrounding quotes and a final full stop.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


class AnswerCheck(BaseModel):
    """What the agent's ``answer("…")`` must say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exact: list[str] = Field(default_factory=list)
    must_include: list[str] = Field(default_factory=list)
    number: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> AnswerCheck:
        if sum(bool(x) for x in (self.exact, self.must_include, self.number is not None)) != 1:
            raise ValueError("an answer check needs exactly one of exact, must_include, number")
        return self


class SqlCheck(BaseModel):
    """A query against a site's database and the rows (as lists) it must return, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db: str
    query: str
    expect: list[list[Any]]


class Check(BaseModel):
    """The parts of a task's check; all present parts must pass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: AnswerCheck | None = None
    url: str | None = None
    sql: list[SqlCheck] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Check:
        if self.answer is None and self.url is None and not self.sql:
            raise ValueError("a check needs at least one of answer, url, sql")
        return self


@dataclass
class Verdict:
    """The outcome of a check: ``passed`` and one line per part, saying what was expected and found."""

    passed: bool
    details: list[str] = field(default_factory=list)


def normalise(text: str) -> str:
    text = " ".join(str(text).split()).lower()
    text = text.strip("\"'`“”‘’ ")
    return text[:-1] if text.endswith(".") else text


def first_number(text: str) -> float | None:
    match = _NUMBER.search(text.replace("$", ""))
    return float(match[0].replace(",", "")) if match else None


def check_answer(check: AnswerCheck, answer: str) -> tuple[bool, str]:
    said = normalise(answer)
    if check.exact:
        ok = said in {normalise(e) for e in check.exact}
        return ok, f"answer {answer!r}: expected exactly {' or '.join(map(repr, check.exact))}"
    if check.must_include:
        missing = [m for m in check.must_include if normalise(m) not in said]
        return not missing, f"answer {answer!r}: must include {check.must_include!r}" + (
            f"; missing {missing!r}" if missing else "")
    number = first_number(answer)
    ok = number is not None and abs(number - check.number) <= 1e-6 * max(1.0, abs(check.number))
    return ok, f"answer {answer!r}: expected the number {check.number:g}"


def evaluate(check: Check, *, answer: str, url: str, database: Callable[[str], sqlite3.Connection]) -> Verdict:
    """Judge an episode's end: ``answer`` given, final page ``url``, ``database(name)`` opens a site's current data."""
    verdict = Verdict(True)

    def record(ok: bool, line: str) -> None:
        verdict.passed &= ok
        verdict.details.append(("ok: " if ok else "FAILED: ") + line)

    if check.answer is not None:
        record(*check_answer(check.answer, answer))
    if check.url is not None:
        parts = urlsplit(url)
        where = parts.path + (f"?{parts.query}" if parts.query else "")
        record(re.fullmatch(check.url, where) is not None, f"final page {where!r}: expected to match {check.url!r}")
    opened: dict[str, sqlite3.Connection] = {}
    try:
        for query in check.sql:
            if query.db not in opened:
                opened[query.db] = database(query.db)
            rows = [list(row) for row in opened[query.db].execute(query.query).fetchall()]
            record(rows == query.expect, f"{query.db}: {query.query} returned {_short(rows)}, expected "
                                         f"{_short(query.expect)}")
    finally:
        for conn in opened.values():
            conn.close()
    return verdict


def _short(rows: list[list[Any]]) -> str:
    text = repr(rows)
    return text if len(text) <= 200 else text[:197] + "..."
