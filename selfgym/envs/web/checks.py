"""Programmatic checks of a web task's outcome, WebArena-style: the answer, the final URL, the sites' databases.

A check (``Task.data["check"]``) has one or more parts, all of which must pass:

* ``answer``: what ``answer("…")`` must say, one of three kinds (below);
* ``url``: a regular expression that must match the final page's path and query in full (``/orders/1007``);
* ``sql``: queries against a site's database after the episode, each with the rows it must return
  (``expect``), or with an answer check that the one value it returns must pass (``answer``: the text of a post
  that must give a number, say).

The answer kinds, and why none of them can be passed by listing candidates or hedging. The reward is optimised
by a policy, so every kind keeps one property: an answer that passes the check of one truth fails the check of
any other truth of the same question. "Alex, Ben, Chris, Zoe", "1499 or 1500" and "Zoe (or maybe Ken)" pass
for no truth at all.

* ``exact``: the normalised answer equals one of these (lower case, white space collapsed, surrounding quotes
  and a final full stop dropped). A list or hedge is never equal to one of them.
* ``must_include`` (with ``must_exclude``): the answer names each expected phrase, names none of the
  distractors, and says nothing else in a list. Phrases match as whole words, ignoring case, accents and the
  punctuation between words ("Zoe" is in "Zoe D.", "early blight" in "Early-blight."; "Sunn" is not in
  "sunny"). The answer is cut into items at list separators (``, ; / | & +``, line breaks) and at the words
  and, or, nor, vs, versus, plus, either, maybe, perhaps, possibly, probably, alternatively, otherwise; every
  item must contain an expected phrase: "Port Kelwick and Vellmar" and "From Port Kelwick to Vellmar" pass,
  "Zoe, Ken" and "Zoe or someone else" do not. ``must_exclude`` lists the other candidates, taken from the
  sites' data (every reviewer's name when the question asks for one), so that a list without separators
  ("Zoe Ken Sam") fails too. Mentioning a distractor even to rule it out fails ("Sunn, not Ardle"): answer
  with the answer.
* ``number``: every number in the answer is the expected one, and there is at least one. ``$1,299.00``
  reads as 1299 (commas only group thousands: "1,2,3" is three numbers, "1499,1500" two); a number glued to
  letters still counts ("x1500"). Numbers that the task's prompt itself contains may appear as well, so
  "The total of order #1002 was $264.00" and "4.3 out of 5" pass; a task whose expected number is in its
  prompt is refused when it is loaded (an echo of the prompt would pass). "1499 or 1500", "1499-1500" and a
  full date to a question for a year ("2022-05-21") fail.

Numbers written as words ("three") are not read: they never make an answer pass, and a hedge such as
"fifteen hundred or 1499" passes for 1499 only. Whatever an answer says, it passes for at most one truth.

Checks may come from clients (``selfgym env-server --allow-custom-tasks``), so a check is data that cannot reach
past the site's state or hold the process. A ``url`` pattern is an RE2 expression (``google-re2``: linear time,
so no pattern backtracks for seconds on a long URL the agent chose); one RE2 cannot compile (a backreference, a
lookaround) is refused when the task is loaded. A ``sql`` query names one of the sites' databases and runs on a
private in-memory copy of it: an SQLite authorizer allows reading the site's tables and
calling plain functions, nothing else (no ``ATTACH`` of a file, no write, no ``PRAGMA``, no extension), and a
progress handler stops it after :data:`SQL_TIME_LIMIT_S` (see :class:`CheckDatabase`).
"""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Thousands groups of exactly three digits ("1,499.00"); a minus sign only where it is not a hyphen ("2024-01").
_NUMBER = re.compile(r"(?:(?<![\w.])-)?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?|\.\d+)")
_SEPARATOR = re.compile(r"[,;/|&+\n]|\b(?:and|or|nor|vs|versus|plus|either|maybe|perhaps|possibly|probably|"
                        r"alternatively|otherwise)\b")
_WORD = re.compile(r"[^\W_]+")
_MARK = "\x00"  # stands in for an expected phrase found in the answer; neither a word nor a separator

# The statement's first word, after white space and comments (VACUUM INTO asks the authorizer only as it runs).
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z]+)", re.DOTALL)
# The databases a check may query: the sites' (selfgym.envs.web.container.DATABASE_SITES, named here to keep this
# module free of the container's imports; tests check that they agree).
DATABASES = ("shop", "forum", "wiki")
SQL_TIME_LIMIT_S = 5.0  # a check's query runs at most this long (the shipped ones take milliseconds)
SQL_MAX_LENGTH = 1 << 20  # the largest string or blob a query may build (bytes): no zeroblob(1e9)
_SQL_PROGRESS_STEPS = 10_000  # virtual machine instructions between looks at the clock
# Functions a query may not call: none is built into Python's SQLite except the first two (load_extension is
# also switched off by the module), but a build with the shell's or FTS3's extras would have them.
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "fsdir"})
_SQL_ACTIONS = {getattr(sqlite3, f"SQLITE_{name}"): name for name in (  # the authorizer's action codes, by name
    "ALTER_TABLE", "ANALYZE", "ATTACH", "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE",
    "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "CREATE_VTABLE", "DELETE", "DETACH",
    "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER", "DROP_TEMP_VIEW",
    "DROP_TRIGGER", "DROP_VIEW", "DROP_VTABLE", "FUNCTION", "INSERT", "PRAGMA", "READ", "REINDEX", "SAVEPOINT",
    "SELECT", "TRANSACTION", "UPDATE") if hasattr(sqlite3, f"SQLITE_{name}")}


class AnswerCheck(BaseModel):
    """What the agent's ``answer("…")`` must say (see the module docstring for each kind)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exact: list[str] = Field(default_factory=list)
    must_include: list[str] = Field(default_factory=list)
    must_exclude: list[str] = Field(default_factory=list)
    number: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> AnswerCheck:
        if sum(bool(x) for x in (self.exact, self.must_include, self.number is not None)) != 1:
            raise ValueError("an answer check needs exactly one of exact, must_include, number")
        if self.must_exclude and not self.must_include:
            raise ValueError("must_exclude goes with must_include (exact and number answers already refuse "
                             "anything else)")
        for phrase in (*self.must_include, *self.must_exclude):
            if not words(phrase):
                raise ValueError(f"the phrase {phrase!r} has no letters or digits to match")
        for wanted in self.must_include:
            for other in self.must_exclude:
                if _contains(words(wanted), words(other)) or _contains(words(other), words(wanted)):
                    raise ValueError(f"must_exclude phrase {other!r} overlaps must_include phrase {wanted!r}: "
                                     "no answer could pass")
        return self


class SqlCheck(BaseModel):
    """A query against a site's database, with the rows (as lists) it must return in order (``expect``), or an
    answer check that the single value it must return passes (``answer``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db: str
    query: str
    expect: list[list[Any]] | None = None
    answer: AnswerCheck | None = None

    @field_validator("db")
    @classmethod
    def _a_site(cls, db: str) -> str:
        if db not in DATABASES:
            raise ValueError(f"no database {db!r}; a sql check queries one of {list(DATABASES)}")
        return db

    @model_validator(mode="after")
    def _one_kind(self) -> SqlCheck:
        if (self.expect is None) == (self.answer is None):
            raise ValueError("a sql check needs exactly one of expect (the rows) and answer (a check of the "
                             "one value the query returns)")
        return self


class Check(BaseModel):
    """The parts of a task's check; all present parts must pass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: AnswerCheck | None = None
    url: str | None = None
    sql: list[SqlCheck] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _re2(cls, url: str | None) -> str | None:
        if url is not None:
            url_pattern(url)
        return url

    @model_validator(mode="after")
    def _not_empty(self) -> Check:
        if self.answer is None and self.url is None and not self.sql:
            raise ValueError("a check needs at least one of answer, url, sql")
        return self

    def answer_checks(self) -> list[AnswerCheck]:
        """Every answer check in it: of the answer, and of sql values."""
        return [c for c in (self.answer, *(query.answer for query in self.sql)) if c is not None]


@dataclass
class Verdict:
    """The outcome of a check: ``passed`` and one line per part, saying what was expected and found."""

    passed: bool
    details: list[str] = field(default_factory=list)


@cache
def url_pattern(pattern: str):
    """``pattern`` compiled by RE2 (a ``ValueError`` saying why, if RE2 cannot compile it)."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"the url pattern {pattern!r} is not an RE2 expression ({reason}); RE2 runs in linear time "
                         "and has no backreferences or lookarounds") from None


class SqlRefused(sqlite3.DatabaseError):
    """A check's query tried something a check may not do, or ran past its time (``str``: which)."""


class CheckDatabase:
    """A site's database as a check's queries see it: read-only and time-bound.

    Wraps ``conn`` (a private copy of the site's data, closed with this object). Allowed: SELECT, reading the
    tables and columns of ``main``, recursive CTEs, functions but those of :data:`_DENIED_FUNCTIONS`. Refused by
    the authorizer: everything else, ATTACH and DETACH, any write, PRAGMA, transactions, schema changes. No
    database may be attached at all (limit 0), strings and blobs are at most :data:`SQL_MAX_LENGTH` bytes, and a
    progress handler interrupts a query after ``time_limit_s`` (default :data:`SQL_TIME_LIMIT_S`).
    """

    def __init__(self, conn: sqlite3.Connection, *, time_limit_s: float | None = None) -> None:
        self.conn = conn
        self.time_limit_s = SQL_TIME_LIMIT_S if time_limit_s is None else time_limit_s
        self._refused: list[str] = []
        self._deadline = 0.0
        conn.execute("PRAGMA query_only = ON")  # before the authorizer, which refuses PRAGMA
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQL_MAX_LENGTH)
        if hasattr(conn, "enable_load_extension"):  # absent where Python's SQLite cannot load extensions at all
            conn.enable_load_extension(False)
        conn.set_authorizer(self._authorize)
        conn.set_progress_handler(lambda: int(time.monotonic() > self._deadline), _SQL_PROGRESS_STEPS)

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, database: str | None,
                   _source: str | None) -> int:
        if action in (sqlite3.SQLITE_SELECT, getattr(sqlite3, "SQLITE_RECURSIVE", 33)):
            return sqlite3.SQLITE_OK
        # count(*) reads a table with no column and no database named; nothing but main can be open (no ATTACH)
        if action == sqlite3.SQLITE_READ and database in ("main", None):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        what = _SQL_ACTIONS.get(action, f"action {action}")
        names = (arg2,) if action == sqlite3.SQLITE_FUNCTION else (arg1, arg2, database)
        self._refused.append(" ".join([what, *(repr(n) for n in names if n)]))
        return sqlite3.SQLITE_DENY

    def rows(self, query: str, *, explain: bool = False) -> list[list[Any]]:
        """The rows of ``query`` (of its ``EXPLAIN``: compiled, not run); :class:`SqlRefused` saying what it tried,
        if it is not a query (SELECT, WITH, VALUES), the authorizer refused it or it ran past its time (other
        SQLite errors as they are)."""
        first = _FIRST_WORD.match(query)
        if first is None or first[1].lower() not in ("select", "with", "values"):
            said = first[1] if first else query.strip()[:20]
            raise SqlRefused(f"not allowed in a check: {said!r} (a check's query is a SELECT, WITH or VALUES)")
        self._refused.clear()
        self._deadline = time.monotonic() + self.time_limit_s
        try:
            return [list(row) for row in self.conn.execute(("EXPLAIN " if explain else "") + query).fetchall()]
        except sqlite3.DatabaseError as exc:
            if self._refused:
                raise SqlRefused(f"not allowed in a check: {self._refused[0]} (a check may only read the site's "
                                 "tables)") from None
            if "interrupted" in str(exc):
                raise SqlRefused(f"stopped after {self.time_limit_s:g} s (a check's query may run at most that "
                                 "long)") from None
            raise

    def close(self) -> None:
        self.conn.close()


def normalise(text: str) -> str:
    text = " ".join(str(text).split()).lower()
    text = text.strip("\"'`“”‘’ ")
    return text[:-1] if text.endswith(".") else text


def _fold(text: str) -> str:
    """Lower case without accents (``Zoë`` -> ``zoe``), so that phrases and answers compare alike."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of ``text`` as phrases are matched: folded, split at anything but letters and digits."""
    return _WORD.findall(_fold(text))


def numbers(text: str) -> list[float]:
    """Every number written with digits in ``text`` (``$1,499.00`` -> 1499.0; ``1,2,3`` -> 1, 2, 3)."""
    text = str(text).replace("\u2212", "-")
    return [float(m[0].replace(",", "")) for m in _NUMBER.finditer(text)]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return f" {' '.join(needle)} " in f" {' '.join(haystack)} "


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The phrase's words in order, whole, with any non-word characters between them."""
    return re.compile(r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, words(phrase))) + r"(?![^\W_])")


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def check_answer(check: AnswerCheck, answer: str, context: str = "") -> tuple[bool, str]:
    """Judge ``answer`` (``context``: the task's prompt, whose numbers a number answer may repeat)."""
    answer = str(answer)
    if check.exact:
        ok = normalise(answer) in {normalise(e) for e in check.exact}
        return ok, f"answer {answer!r}: expected exactly {' or '.join(map(repr, check.exact))}"
    if check.must_include:
        return _check_phrases(check, answer)
    return _check_number(check.number, answer, context)


def _check_phrases(check: AnswerCheck, answer: str) -> tuple[bool, str]:
    folded = _fold(answer)
    expected = f"answer {answer!r}: must name {check.must_include!r} and nothing else"
    missing = [p for p in check.must_include if not _phrase_pattern(p).search(folded)]
    if missing:
        return False, f"{expected}; missing {missing!r}"
    named = [p for p in check.must_exclude if _phrase_pattern(p).search(folded)]
    if named:
        return False, f"{expected}; it also names {named!r}"
    marked = folded
    for phrase in sorted(check.must_include, key=lambda p: -len(words(p))):
        marked = _phrase_pattern(phrase).sub(_MARK, marked)
    stray = [item.strip() for item in _SEPARATOR.split(marked) if words(item) and _MARK not in item]
    if stray:
        return False, f"{expected}; it also says {stray[0]!r} (one answer, not a list or alternatives)"
    return True, expected


def _check_number(expected: float, answer: str, context: str) -> tuple[bool, str]:
    said, allowed = numbers(answer), numbers(context)
    line = f"answer {answer!r}: expected the number {expected:g}"
    if not any(_same(n, expected) for n in said):
        return False, line
    others = [n for n in said if not _same(n, expected) and not any(_same(n, c) for c in allowed)]
    if others:
        return False, f"{line} and no other; it also gives {', '.join(f'{n:g}' for n in others)}"
    return True, line


def validate_check(check: Check, *, prompt: str, reference_answer: str) -> None:
    """Refuse (``ValueError``) a task whose check cannot do its job: the reference's answer fails it, or an
    expected number is in the prompt (answers may repeat the prompt's numbers, so an echo would pass)."""
    for answer_check in check.answer_checks():
        if answer_check.number is not None and any(_same(answer_check.number, n) for n in numbers(prompt)):
            raise ValueError(f"its expected number {answer_check.number:g} is in its prompt, so an answer that "
                             "only repeats the prompt would pass; reword the prompt")
    if check.answer is not None:
        ok, line = check_answer(check.answer, reference_answer, prompt)
        if not ok:
            raise ValueError(f"the reference's answer fails the task's check ({line})")


def evaluate(check: Check, *, answer: str, url: str, database: Callable[[str], sqlite3.Connection],
             context: str = "") -> Verdict:
    """Judge an episode's end: ``answer`` given, final page ``url``, ``database(name)`` opens a site's current
    data; ``context`` is the task's prompt (numbers it contains may appear in number answers)."""
    verdict = Verdict(True)

    def record(ok: bool, line: str) -> None:
        verdict.passed &= ok
        verdict.details.append(("ok: " if ok else "FAILED: ") + line)

    if check.answer is not None:
        record(*check_answer(check.answer, answer, context))
    if check.url is not None:
        parts = urlsplit(url)
        where = parts.path + (f"?{parts.query}" if parts.query else "")
        record(url_pattern(check.url).fullmatch(where) is not None,
               f"final page {where!r}: expected to match {check.url!r}")
    opened: dict[str, CheckDatabase] = {}
    try:
        for query in check.sql:
            if query.db not in opened:
                opened[query.db] = CheckDatabase(database(query.db))
            try:
                rows = opened[query.db].rows(query.query)
            except (sqlite3.Error, sqlite3.Warning) as exc:  # a query the check may not run: it fails
                record(False, f"{query.db}: {query.query}: {type(exc).__name__}: {exc}")
                continue
            if query.answer is None:
                record(rows == query.expect, f"{query.db}: {query.query} returned {_short(rows)}, expected "
                                             f"{_short(query.expect)}")
            elif len(rows) != 1 or len(rows[0]) != 1:
                record(False, f"{query.db}: {query.query} returned {_short(rows)}, expected one row of one value")
            else:
                ok, line = check_answer(query.answer, str(rows[0][0]), context)
                record(ok, f"{query.db}: {query.query}: {line}")
    finally:
        for db in opened.values():
            db.close()
    return verdict


def validate_sql(check: Check, database: Callable[[str], sqlite3.Connection]) -> None:
    """Refuse (``ValueError``) a check whose queries do not compile on the sites' seeded databases (``database``
    opens one), or try what :class:`CheckDatabase` refuses (an ``ATTACH``, a write, a ``PRAGMA``...). Only compiled
    (``EXPLAIN``), not run: the authorizer is asked as a statement is prepared."""
    for number, query in enumerate(check.sql, start=1):
        db = CheckDatabase(database(query.db))
        try:
            db.rows(query.query, explain=True)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise ValueError(f"sql check {number} ({query.db}): {exc}") from None
        finally:
            db.close()


def _short(rows: list[list[Any]]) -> str:
    text = repr(rows)
    return text if len(text) <= 200 else text[:197] + "..."
