"""Verdicts decided without sympy, for answers whose meaning is plain, each the verdict math-verify would give.

Plain numbers (``-1,250.5``, ``3/4``, ``\\frac{3}{4}``, ``\\$5``, ``90^\\circ``, ``2\\times10^{3}``, ``50\\%``), assignments
of one (``x = 3``), sets of exact numbers (``\\{1, 2\\}``) and intervals between them (``(1, 2]``,
``[0, \\infty)``) are compared here; anything else, and any comparison near math-verify's rounding edge, is
left to math-verify (``None``). How math-verify compares them, and so what this module does:

* exact numbers (integers, fractions, ``a\\times10^{k}`` with an integer ``a``) are equal when their values are;
* a number written with a decimal point is a float: equal when both round to the same 6 decimals. Sympy rounds
  binary floats, so values less than 2e-6 apart (and magnitudes from 1e8 up) go to math-verify;
* a percentage is worth its hundredth (``50\\%`` is ``0.5`` and ``\\frac{1}{2}``), but two whole numbers also
  compare as written (``50\\%`` is ``50``); with a float, only the worth counts (``50\\%`` is not ``50.0``);
* ``x = 3`` and ``3`` are equal when the numbers are; ``x = 3`` and ``y = 3`` are not;
* sets are equal when they have the same elements; intervals when their ends and brackets are the same.

``tests/test_math_verify.py`` holds this module to math-verify's verdicts on the project's equivalence table and on
the pairs of ``tests/data/math_pairs.jsonl``. Scientific ``e`` notation (``2e3``) is not a number here: math-verify
reads ``e`` as Euler's number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

# Spacing and sizing that do not change what LaTeX means: texts equal without them are equal answers.
# (Space between two letters or digits stays: "\\pi r" is not "\\pir", and "2 3" is not 23.)
_LATEX_NOISE = re.compile(
    r"\\left\b|\\right\b|\\[,;:! ]|\\displaystyle|(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])")
_FRAC_VARIANTS = re.compile(r"\\[dt]frac\b")

_UNSIGNED = (r"(?:(?P<decimal>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
             r"|(?P<num>\d+)/(?P<den>\d+)"
             r"|\\frac\{(?P<fsign>[+-]?)(?P<fnum>\d+)\}\{(?P<fden>\d+)\}"
             r"|(?:(?P<mantissa>\d+)\\(?:times|cdot))?10\^(?:\{(?P<bexp>[+-]?\d{1,3})\}|(?P<exp>\d)))")
_NUMBER = re.compile(
    rf"(?P<sign>[+-]?)(?:\\\$|\$)?{_UNSIGNED}(?:\^\{{?\\circ\}}?|°|\\degree|(?P<percent>\\?%))?")
_ELEMENT = re.compile(rf"(?P<sign>[+-]?){_UNSIGNED}")
_ASSIGNMENT = re.compile(r"(?P<variable>[xyzntkab])=(?P<value>.+)")
_INTERVAL = re.compile(r"(?P<open>[(\[])(?P<low>[^,]+),(?P<high>[^,]+)(?P<close>[)\]])")
_INFINITY = re.compile(r"(?P<sign>[+-]?)\\infty")
_SET = re.compile(r"\\\{(?P<elements>[^{}]*)\\\}")

FLOAT_ROUNDING_PLACES = 6  # math-verify compares floats after rounding to this many places
_ROUNDING_EDGE = Fraction(2, 10 ** FLOAT_ROUNDING_PLACES)  # closer than this, binary rounding may go either way
_FLOAT_MAGNITUDE_LIMIT = 10 ** 8  # from here on, 6 decimals exceed what sympy's 15-digit floats hold exactly


@dataclass(frozen=True)
class Number:
    """A plain number: its exact value as written, whether it was written with a decimal point (a float to
    sympy), and whether it is a percentage (``50\\%``: the value 50, worth 1/2)."""

    value: Fraction
    inexact: bool
    percent: bool = False

    @property
    def worth(self) -> Fraction:
        return self.value / 100 if self.percent else self.value


@dataclass(frozen=True)
class Assignment:
    variable: str
    number: Number


@dataclass(frozen=True)
class NumberInterval:
    low: Fraction | None  # None: -infinity
    high: Fraction | None  # None: +infinity
    low_open: bool
    high_open: bool


def canonical_latex(text: str) -> str:
    """``text`` without the LaTeX spacing and sizing that do not change its meaning, ``\\dfrac`` as ``\\frac``."""
    return _FRAC_VARIANTS.sub(r"\\frac", _LATEX_NOISE.sub("", text))


def plain_number(text: str) -> Number | None:
    """``text`` as a number if it is a plain one (``-1,250.5``, ``3/4``, ``\\frac{3}{4}``, ``\\$5``, ``90^\\circ``,
    ``2\\times10^{3}``), else ``None``."""
    match = _NUMBER.fullmatch(canonical_latex(text.strip()))
    return _number(match) if match else None


def _number(match: re.Match) -> Number | None:
    sign = -1 if (match["sign"] == "-") != (match["fsign"] == "-") else 1
    try:  # ValueError: a zero denominator, or more digits than Python converts (sys.get_int_max_str_digits)
        percent = bool(match.groupdict().get("percent"))
        if percent and (match["decimal"] is None or match["sign"] == "-"):
            return None  # how sympy holds -50% or 1/2% is not this module's business
        if match["decimal"] is not None:
            literal = match["decimal"].replace(",", "")
            return Number(sign * Fraction(Decimal(literal)), "." in literal, percent)
        if match["num"] is not None or match["fnum"] is not None:
            numerator, denominator = (match["num"], match["den"]) if match["num"] else (match["fnum"], match["fden"])
            return Number(sign * Fraction(int(numerator), int(denominator)), False, percent)
        exponent = int(match["bexp"] if match["bexp"] is not None else match["exp"])
        return Number(sign * int(match["mantissa"] or 1) * Fraction(10) ** exponent, False, percent)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None


@lru_cache(maxsize=65_536)
def answer_form(text: str) -> Number | Assignment | frozenset | NumberInterval | None:
    """What ``text`` is, if it is one of the forms this module decides (a set is a frozenset of Fractions)."""
    text = canonical_latex(text.strip())
    match = _NUMBER.fullmatch(text)
    if match:
        return _number(match)
    match = _ASSIGNMENT.fullmatch(text)
    if match:
        number = plain_number(match["value"])
        return Assignment(match["variable"], number) if number is not None else None
    match = _SET.fullmatch(text)
    if match:
        elements = [_exact(element) for element in match["elements"].split(",")]
        return frozenset(elements) if elements and None not in elements else None
    match = _INTERVAL.fullmatch(text)
    if match:
        return _interval(match)
    return None


def _exact(text: str) -> Fraction | None:
    match = _ELEMENT.fullmatch(text)
    number = _number(match) if match else None
    return number.value if number is not None and not number.inexact else None


def _interval(match: re.Match) -> NumberInterval | None:
    ends = []
    for end, bracket, infinite_sign in ((match["low"], match["open"], "-"), (match["high"], match["close"], "+")):
        infinity = _INFINITY.fullmatch(end)
        if infinity:
            # sympy opens an infinite end itself: "[0, \\infty]" is "[0, \\infty)"; leave such texts to it
            if (infinity["sign"] or "+") != infinite_sign or bracket in "[]":
                return None
            ends.append(None)
        else:
            ends.append(_exact(end))
            if ends[-1] is None:
                return None
    low, high = ends
    if low is not None and high is not None and low >= high:
        return None  # empty or a single point: sympy turns these into other sets
    return NumberInterval(low, high, match["open"] == "(", match["close"] == ")")


def numbers_equal(first: Number, second: Number) -> bool | None:
    """math-verify's verdict on two plain numbers, or ``None`` where its float rounding could go either way."""
    if first.inexact or second.inexact:  # floats: what they are worth, rounded
        a, b = first.worth, second.worth
        if max(abs(a), abs(b)) >= _FLOAT_MAGNITUDE_LIMIT:
            return None
        if a == b:
            return True
        return False if abs(a - b) >= _ROUNDING_EDGE else None
    if first.value.denominator == second.value.denominator == 1 and first.value == second.value:
        return True  # two integers, percentages or not, compare as written: 50% is 50
    return first.worth == second.worth  # else exactly what they are worth: 50% is 1/2, 200% is 2


def exact_verdict(gold: str, answer: str) -> tuple[bool, str] | None:
    """``(equal, how)`` when decided here: ``how`` is ``"exact"`` (the same text, up to spacing) or ``"numeric"``
    (the forms above); ``None`` when math-verify must decide."""
    if gold.strip() == answer.strip() or canonical_latex(gold) == canonical_latex(answer):
        return True, "exact"
    equal = _forms_equal(answer_form(gold), answer_form(answer))
    return None if equal is None else (equal, "numeric")


def _forms_equal(gold, answer) -> bool | None:
    if isinstance(gold, Assignment) and isinstance(answer, Assignment):
        return numbers_equal(gold.number, answer.number) if gold.variable == answer.variable else False
    if isinstance(gold, Assignment) and isinstance(answer, Number):
        return numbers_equal(gold.number, answer)
    if isinstance(gold, Number) and isinstance(answer, Assignment):
        return numbers_equal(gold, answer.number)
    if isinstance(gold, Number) and isinstance(answer, Number):
        return numbers_equal(gold, answer)
    if isinstance(gold, frozenset) and isinstance(answer, frozenset):
        return gold == answer
    if isinstance(gold, NumberInterval) and isinstance(answer, NumberInterval):
        return gold == answer
    return None
