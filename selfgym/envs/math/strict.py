"""selfgym's own answer rules for reasoning-gym generators whose scorers are lax, applied before the scorer.

A generator's ``score_answer`` decides Math-v0's reward for its tasks, and some accept what is not an answer:
``game_of_life_halting`` compares ``bool(answer) == bool(gold)`` (any non-empty text is "True"), ``word_sorting``
gives full marks to any list that starts with the sorted words, ``gsm_symbolic`` reads the first number of a
reply (``28080 or 5`` passes), ``coin_flip`` the longest common prefix (``0.5999`` is ``0.5``). The rules here
close those holes by construction, per answer type:

* **boolean** (any task whose gold is ``True``/``False``): the answer must be exactly ``True`` or ``False`` (any
  case, a final period or bold allowed) and is compared here; the scorer is not asked;
* **length** (any task with a gold): an answer longer than ``2 * len(gold) + 200`` characters is wrong: no right
  answer to the task is that long, and scorers that search an answer for the gold would find it in a long one;
* per generator (:data:`RULES`): one number in the answer; one number within ``1e-4`` of the gold (compared
  here); a comma-separated list with as many items as the gold; as many numbers as the gold; an expression of
  exactly the task's numbers (``puzzle24``'s scorer takes any expression worth 24); the very numbers of the
  gold list (``number_sorting``'s scorer lets each be off by 1); the very word (``figlet_font``'s scorer gives full
  marks to any ten letters in place); only buttons and arrows (``quantum_lock``'s presses every A-C in the text);
  the very text (``spell_backward``'s sums rounded fractions per letter in place).

Generators in :data:`REFUSED` are not offered at all (:func:`~.generators.generator_names` leaves them out).

:func:`strict_score` returns a verdict that replaces the scorer's, ``(0.0, why)`` for an answer a rule rejects,
or ``None`` to let the scorer decide. :mod:`.canary` checks every generator's scoring, rules included, with
answers that must never pass, and refuses the generators that still accept one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

MAX_EXTRA_CHARS = 200  # an answer may be up to 2 * len(gold) + this long
NUMBER_TOLERANCE = 1e-4  # coin_flip's own tolerance
_BOOLEANS = {"true": True, "false": False}
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:/\d+)?")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_DECORATION = re.compile(r"^[\s*_`\"']+|[\s*_`\"'.]+$")


def boolean(text: str) -> bool | None:
    """``text`` as a boolean: ``True``/``False`` in any case, with surrounding bold, quotes or a final period."""
    return _BOOLEANS.get(_DECORATION.sub("", text).casefold())


Verdict = tuple[float, str | None]  # (score in [0, 1], why it was rejected or None)


def _one_number(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    numbers = _NUMBER.findall(answer)
    if len(numbers) != 1:
        return 0.0, f"one number is expected; the answer has {len(numbers)}"
    return None


def _number(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    try:
        value = Fraction(_DECORATION.sub("", answer).replace(",", ""))
        expected = Fraction(gold.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return 0.0, "one number (a decimal or a fraction) is expected"
    return (1.0, None) if abs(value - expected) <= Fraction(NUMBER_TOLERANCE) else (0.0, None)


def _same_count(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    wanted, given = len(re.split(r",\s*", gold.strip())), len(re.split(r",\s*", answer.strip()))
    if wanted != given:
        return 0.0, f"a list of {wanted} comma-separated item(s) is expected; the answer has {given}"
    return None


def _same_numbers(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    # digits runs, so that 18/73 and \frac{18}{73} both hold two numbers
    wanted, given = len(_DIGITS.findall(gold)), len(_DIGITS.findall(answer))
    if wanted != given:
        return 0.0, f"an answer with {wanted} number(s) is expected; the answer has {given}"
    return None


def _task_numbers(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    wanted = sorted(int(n) for n in (entry.get("metadata") or {}).get("numbers", []))
    given = sorted(int(n) for n in re.findall(r"\d+", answer))
    if given != wanted:
        return 0.0, f"the expression must use exactly the numbers {wanted}"
    return None


def _number_list(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    try:
        given = [float(item) for item in json.loads(answer.replace("'", '"'))]
        wanted = [float(item) for item in json.loads(gold.replace("'", '"'))]
    except (ValueError, TypeError):
        return 0.0, "a list of numbers is expected, as the task shows it"
    return float(len(given) == len(wanted) and all(abs(a - b) <= 1e-9 for a, b in zip(given, wanted))), None


def _same_word(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    return float(answer.replace(" ", "").strip().casefold() == gold.replace(" ", "").strip().casefold()), None


def _same_text(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    return float(answer.strip().casefold() == gold.strip().casefold()), None


_BUTTONS = re.compile(r"\s*[A-Ca-c](?:\s*(?:→|->|,|\s)\s*[A-Ca-c])*\s*\.?")


def _buttons(answer: str, gold: str, entry: Mapping[str, Any]) -> Verdict | None:
    if not _BUTTONS.fullmatch(answer):
        return 0.0, "a sequence of buttons (A, B, C) separated by arrows is expected"
    return None


# Generator -> the rule for its answers (besides the boolean and length rules, which apply to every generator).
RULES: dict[str, Callable[[str, str, Mapping[str, Any]], Verdict | None]] = {
    "gsm_symbolic": _one_number,  # its scorer reads the first number of the answer
    "coin_flip": _number,  # its scorer gives full marks to an answer that starts like the gold
    "word_sorting": _same_count,  # its scorer counts the gold's words at the start of the answer
    "polynomial_equations": _same_count,
    "time_intervals": _same_count,  # its scorer reads the first duration
    "advanced_geometry": _same_numbers,  # its scorer reads the first one or two numbers
    "fraction_simplification": _same_numbers,  # its scorer reads the first fraction
    "puzzle24": _task_numbers,  # its scorer accepts any expression worth 24, of any four numbers
    "number_sorting": _number_list,  # its scorer lets each number be off by up to 1
    "cryptarithm": _same_count,  # its scorer reads "A=1,A=2" as A=2: a list of mappings passes
    "figlet_font": _same_word,  # its scorer gives 0.1 a letter in place, up to 1: any 10 right letters pass
    "quantum_lock": _buttons,  # its scorer presses every A-C letter of the answer: "banana" is B, A, A, A
    "spell_backward": _same_text,  # its scorer sums 1/len per letter in place: the gold and more can reach 1.0
}

# Generators selfgym does not use, and why: no rule makes their scoring sound at a reasonable cost.
REFUSED: dict[str, str] = {
    "sokoban": "its scorer replays any sequence of moves, so a reply that lists several candidate solutions "
               "passes, and it takes up to a second per answer",
}


def strict_score(name: str, answer: str, entry: Mapping[str, Any]) -> Verdict | None:
    """selfgym's verdict on ``answer`` to generator ``name``'s task ``entry`` (``{"answer": gold, ...}``):
    ``(score, why or None)`` when a rule decides, ``None`` when the generator's scorer should."""
    gold = entry.get("answer")
    if gold is None:
        return None
    gold = str(gold)
    limit = 2 * len(gold) + MAX_EXTRA_CHARS
    if len(answer) > limit:
        return 0.0, f"the answer is {len(answer):,} characters; no right answer to this task is over {limit:,}"
    expected = boolean(gold)
    if expected is not None and gold.strip() in ("True", "False"):
        given = boolean(answer)
        if given is None:
            return 0.0, "the answer must be True or False"
        return float(given == expected), None
    rule = RULES.get(name)
    return rule(answer, gold, entry) if rule is not None else None
