"""Final answers: pulling one out of a model's text, and judging it against the gold answer.

``extract_answer`` finds the final answer (``<answer>…</answer>``, ``\\boxed{…}``, an ``Answer:`` line, or a
GSM8K-style ``#### …`` line). ``verify_answer`` judges it by mathematical equivalence: plain numbers, intervals,
sets and identical strings are decided here at once (:mod:`.exact`); anything else goes to math-verify in a pool of
child processes with a deadline (see :mod:`.verifier`), because math-verify's own timeout is ``signal.alarm``,
which works only on the main thread, and a pathological answer (``10^{10^{10}}``) can hang sympy in C code that
no signal interrupts.

Verdicts are cached per (gold, answer): an RL batch asks about the same pair many times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..task import Task
from .exact import exact_verdict, plain_number
from .generators import SYMBOLIC_GENERATORS, dataset_key
from .verifier import VerificationTimeout, VerifierError, default_verifier

MAX_SYMBOLIC_ANSWER_CHARS = 1_000  # longer answers are not sent to sympy: no real final answer is this long
DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Verdict:
    """The judgement of one answer.

    Attributes:
        correct: the answer is equivalent to the gold answer.
        method: how it was decided: ``"exact"`` (same text), ``"numeric"`` (numbers, sets, intervals compared here),
            ``"math-verify"``, ``"score_answer"`` (a reasoning-gym generator's own scorer), or ``"none"``.
        score: the scorer's reward in [0, 1] (reasoning-gym gives partial credit); 1.0 or 0.0 otherwise.
        error: why the answer could not be judged (timeout, too long, verifier failure), else ``None``.
    """

    correct: bool
    method: str
    score: float = 0.0
    error: str | None = None


# --- extraction ----------------------------------------------------------------------------------------------

_ANSWER_LINE = re.compile(
    r"^[ \t>*_#]*(?:the[ \t]+)?(?:final[ \t]+)?answer(?:[ \t]+is)?[ \t*_]*[:：][ \t*_]*(.+?)[ \t]*$", re.I | re.M)
_GSM8K_LINE = re.compile(r"^[ \t]*####[ \t]*(.+?)[ \t]*$", re.M)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_BOX_TOKEN = re.compile(r"[^\s$]+")
# What may stand between answers that together list candidates: separators, "and"/"or", math delimiters.
_LIST_CONNECTOR = re.compile(
    r"(?:\s|\$|\\[()\[\],;]|\\q?quad|[,;&]|\b(?:and|or)\b|\\(?:text|mathrm|textbf)\s*\{\s*,?\s*(?:and|or)?\s*\})*",
    re.I)
_MATH_DELIMITERS = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")]


def last_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{…}`` (or ``\\fbox{…}``, or ``\\boxed 5``) in ``text``."""
    boxes = _boxed_spans(text)
    return boxes[-1][2] if boxes else None


def _boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of each complete box in ``text``, in order; linear time."""
    closing, spans = _matching_braces(text), []
    for match in _BOXED.finditer(text):
        start = match.end()
        if start < len(text) and text[start] == "{":
            if start in closing:
                spans.append((match.start(), closing[start] + 1, text[start + 1: closing[start]]))
        else:
            token = _BOX_TOKEN.match(text, start)
            if token:
                spans.append((match.start(), token.end(), token.group(0)))
    return spans


def _listed(text: str, spans: list[tuple[int, int, str]]) -> str | None:
    """The content of the last span, or of the list the last spans make (``\\boxed{2} or \\boxed{3}`` is the
    list ``2, 3``, as math-verify reads it: several answers side by side are one answer that lists them)."""
    if not spans:
        return None
    first = len(spans) - 1
    while first > 0 and _LIST_CONNECTOR.fullmatch(text, spans[first - 1][1], spans[first][0]):
        first -= 1
    return ", ".join(content.strip() for _, _, content in spans[first:])


def _matching_braces(text: str) -> dict[int, int]:
    """Where each ``{`` that is closed is closed, in one pass (replies can be long and hostile)."""
    opened, closing = [], {}
    for position, char in enumerate(text):
        if char == "{":
            opened.append(position)
        elif char == "}" and opened:
            closing[opened.pop()] = position
    return closing


def tagged_blocks(text: str, tag: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the content of each complete ``<tag>…</tag>`` (any case), in order; linear time."""
    blocks, opened = [], None
    for match in re.finditer(f"<(/?){re.escape(tag)}>", text, re.I):
        if not match.group(1):
            opened = match.end() if opened is None else opened
        elif opened is not None:
            blocks.append((opened, match.start()))
            opened = None
    return blocks


def clean_answer(answer: str) -> str:
    """Strip what surrounds an answer but is not part of it: spaces, math delimiters, bold, a final period."""
    answer = _drop_final_period(answer.strip().strip("*").strip())
    inner = last_boxed(answer)
    if inner is not None and answer.startswith(("\\boxed", "\\fbox")):
        answer = inner.strip()
    for opening, closing in _MATH_DELIMITERS:
        if len(answer) > len(opening) + len(closing) and answer.startswith(opening) and answer.endswith(closing):
            answer = answer[len(opening): -len(closing)].strip()
            break
    return _drop_final_period(answer)


def _drop_final_period(text: str) -> str:
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("..") else text


_ANY_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?![\w])")


def last_number(text: str) -> str | None:
    """The last number in ``text`` (integer, decimal with thousands separators, or a/b), as lm-evaluation-harness's
    "flexible-extract" takes it from a reply without an answer marker; ``None`` when there is none."""
    matches = _ANY_NUMBER.findall(text[-20_000:])
    return matches[-1].replace(",", "") if matches else None


def extract_answer(text: str) -> str | None:
    """The final answer in a model's text, or ``None`` when it gives none.

    Looks, in this order, for the last ``<answer>…</answer>``, the last ``\\boxed{…}``, the last ``Answer: …``
    (or ``Final answer: …``) line, and the last ``#### …`` line. What tags and boxes hold is kept as written
    (but for surrounding space: a generator's scorer may need it exactly, final period included); an answer
    line is cleaned of math delimiters, bold and a final period. An empty answer counts as none. Answers side
    by side, with nothing but separators, ``and``/``or`` or math delimiters between them, are one answer
    listing them: ``\\boxed{2} or \\boxed{3}`` is ``2, 3`` (as math-verify reads it), not ``3``.
    """
    tags = [(start - len("<answer>"), end + len("</answer>"), text[start:end])
            for start, end in tagged_blocks(text, "answer")]
    delimited = _listed(text, tags) if tags else _listed(text, _boxed_spans(text))
    if delimited is not None:
        return delimited.strip() or None
    line = _last(_ANSWER_LINE, text) or _last(_GSM8K_LINE, text)
    return (clean_answer(line) or None) if line is not None else None


def _last(pattern: re.Pattern, text: str) -> str | None:
    matches = pattern.findall(text)
    return matches[-1] if matches else None


# --- units ------------------------------------------------------------------------------------------------------

# Words that are mathematics, not units: "3 pi" is not 3.
_MATH_WORDS = frozenset({"pi", "e", "i", "sqrt", "ln", "log", "sin", "cos", "tan", "exp", "inf", "infinity", "or",
                         "and", "x", "y", "z", "n", "k", "mod", "times", "over", "percent"})
_WITH_UNITS = re.compile(r"(?P<number>.*?[\d}])\s*"
                         r"(?:\\(?:text|mbox|mathrm)\s*\{\s*(?P<braced>[A-Za-z][A-Za-z .]*?)\s*\}"
                         r"|(?P<bare>[A-Za-z][A-Za-z .]*?))\s*\.?", re.S)
_MAX_UNITS_ANSWER_CHARS = 200


def strip_units(answer: str) -> str:
    """``"10 dollars"`` → ``"10"``, ``"5 \\text{cm}"`` → ``"5"``: a plain number followed by unit words.

    Only words that are not mathematics are dropped (``"3 pi"`` stays), and only after a plain number.
    """
    match = _WITH_UNITS.fullmatch(answer) if len(answer) <= _MAX_UNITS_ANSWER_CHARS else None
    if match is None or plain_number(match["number"]) is None:
        return answer
    words = (match["braced"] or match["bare"]).replace(".", " ").lower().split()
    return match["number"].strip() if words and not _MATH_WORDS.intersection(words) else answer


_LINE_STRUCTURE = re.compile(r"\\begin\s*\{|\\end\s*\{|\\\\|\\newline\b|\n")


def several_lines(answer: str) -> bool:
    """Whether ``answer`` breaks a line outside a LaTeX environment (a newline, ``\\\\``, ``\\newline``): a list
    of candidates, one per line. Rows of a matrix or cases (``\\begin{pmatrix}1\\\\2\\end{pmatrix}``) are one."""
    depth = 0
    for token in _LINE_STRUCTURE.finditer(answer):
        text = token.group(0)
        if text.startswith("\\begin"):
            depth += 1
        elif text.startswith("\\end"):
            depth = max(depth - 1, 0)
        elif depth == 0:
            return True
    return False


# --- verification ---------------------------------------------------------------------------------------------

def verify_answer(gold: str, answer: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Is ``answer`` mathematically equivalent to ``gold``? Safe on any thread, with any input.

    ``answer`` is what :func:`extract_answer` returned (the content of ``\\boxed{}``, not the whole reply).
    Equivalence is math-verify's: ``\\frac{1}{2}`` = ``0.5``, ``\\sqrt{8}`` = ``2\\sqrt{2}``, ``(1,2]``,
    ``\\{1,2\\}`` = ``\\{2,1\\}``, ``50\\%`` = ``0.5``; numbers written with a decimal point agree to 6 places;
    a plain number followed by unit words (``10 dollars``) is that number. A list of candidates is one set
    (``1, 2, 3`` is not ``2``), and one over several lines is wrong. Plain forms are decided here
    (:mod:`.exact`), the rest by math-verify in the verifier pool. A timeout or an answer longer than ``MAX_SYMBOLIC_ANSWER_CHARS`` is judged wrong, with
    ``error`` saying why. Results are cached.
    """
    return _math_verdict(gold, answer, timeout_s)[0]


def _math_verdict(gold: str, answer: str, timeout_s: float) -> tuple[Verdict, bool]:
    """The verdict, and whether a mathematical value was read in the answer (so the verdict is about it)."""
    try:
        return _cached_verdict(gold, answer, timeout_s)
    except (VerificationTimeout, VerifierError) as exc:
        return _failed("math-verify", "verification", timeout_s, exc), False


def _failed(method: str, what: str, timeout_s: float, exc: Exception) -> Verdict:
    """The wrong verdict that a verifier worker's timeout or failure stands for, saying which."""
    if isinstance(exc, VerificationTimeout):
        return Verdict(False, method, 0.0, f"{what} timed out after {timeout_s:g} s")
    return Verdict(False, method, 0.0, f"{what} failed: {exc}")


@lru_cache(maxsize=65_536)
def _cached_verdict(gold: str, answer: str, timeout_s: float) -> tuple[Verdict, bool]:
    # Exceptions (timeouts, a crashed verifier) are not cached by lru_cache: the pair is retried next time.
    gold, answer = _clean_gold(gold), strip_units(clean_answer(answer))
    decided = exact_verdict(gold, answer)
    if decided is not None:
        correct, method = decided
        return Verdict(correct, method, float(correct)), True
    if several_lines(answer):  # math-verify would read one of them (the first or the last, by the separator)
        return Verdict(False, "none", 0.0, "the answer has several lines; a final answer is one expression"), True
    if len(answer) > MAX_SYMBOLIC_ANSWER_CHARS:
        return Verdict(False, "none", 0.0,
                       f"answer is {len(answer):,} characters; at most {MAX_SYMBOLIC_ANSWER_CHARS:,} are verified"), False
    reply = default_verifier().call({"op": "math", "gold": gold, "answer": answer}, timeout_s, key=f"gold:{gold}")
    correct = bool(reply["correct"])
    return Verdict(correct, "math-verify", float(correct)), bool(reply.get("read"))


@lru_cache(maxsize=65_536)
def _clean_gold(gold: str) -> str:
    return clean_answer(gold)


def clear_verification_cache() -> None:
    """Forget cached verdicts and scores (for benchmarks that time the uncached path)."""
    _cached_verdict.cache_clear()
    _cached_score.cache_clear()


# --- judging a task's answer ----------------------------------------------------------------------------------

def judge(task: Task, answer: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Judge an extracted ``answer`` to a math task.

    Tasks from files have ``data={"answer": gold}``: math-verify decides. Tasks from reasoning-gym generators
    carry their spec (``data["reasoning_gym"]``): the generator's own scorer decides. For
    :data:`~.generators.SYMBOLIC_GENERATORS` math-verify decides first, and the scorer only sees answers in which
    math-verify reads no mathematical value (words, say) and that it could judge (not past its deadline, not
    too long): two judges that read different parts of one answer (math-verify the last line, a scorer the first
    number) would otherwise accept a list of candidates.
    """
    gold, spec = task.data.get("answer"), task.data.get("reasoning_gym")
    if spec is None:
        if gold is None:
            raise ValueError(f"math task {task.id!r} needs data['answer'] (gold) or a data['reasoning_gym'] spec")
        return verify_answer(str(gold), answer, timeout_s=timeout_s)
    if gold is not None and spec.get("name") in SYMBOLIC_GENERATORS:
        verdict, read = _math_verdict(str(gold), answer, timeout_s)
        # An answer math-verify could not judge (too long, past the deadline) is wrong: the scorer would read a
        # part of it (gsm_symbolic's first number), so "28080 + 10^{10^{10}}" would pass on a timeout.
        if verdict.correct or read or verdict.error:
            return verdict
    entry = {"question": task.prompt, "answer": gold, "metadata": task.data.get("metadata", {})}
    try:
        return _cached_score(json.dumps({"spec": spec, "entry": entry}, sort_keys=True), answer, timeout_s)
    except (VerificationTimeout, VerifierError) as exc:
        return _failed("score_answer", "scoring", timeout_s, exc)


@lru_cache(maxsize=65_536)
def _cached_score(task_json: str, answer: str, timeout_s: float) -> Verdict:
    request = {"op": "score", **json.loads(task_json), "answer": answer}
    reply = default_verifier().call(request, timeout_s, key=f"task:{dataset_key(request['spec'])}")
    return Verdict(reply["score"] >= 1.0, "score_answer", reply["score"], reply.get("rejected"))


def prepare_task(data: Mapping[str, Any]) -> None:
    """Warm the verifier for a task (build its reasoning-gym dataset) so its first judgement is quick.

    Raises ``ValueError`` when the task's reasoning-gym spec cannot be built.
    """
    spec = data.get("reasoning_gym")
    if spec is None:
        return
    try:
        default_verifier().call({"op": "prepare", "spec": dict(spec)}, DEFAULT_TIMEOUT_S,
                                key=f"task:{dataset_key(spec)}")
    except VerifierError as exc:
        raise ValueError(f"cannot build the reasoning-gym task {spec!r}: {exc}") from None
