"""Answers that try to pass a check without knowing the answer, for any task that takes one (Web-v0 ``answer``,
Shell-v0 ``submit <answer>``, ...).

A policy optimised against the reward finds every answer that passes for more than one truth: a list of all
candidates, a hedge ("X or Y"), a range of numbers, the right answer among invented ones. Run a task's check
through :func:`assert_refuses_gaming` with the task's reference answer and the other candidates a policy could
name (from the task's data, or :func:`generic_distractors`)::

    assert_refuses_gaming(lambda answer: judge(task, answer), "Zoe D.", ["Ken Y.", "Sam R."])

It asserts that the reference passes and that every answer of :func:`gaming_answers` fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# Names and numbers a policy could invent to hide the right answer among; none is the answer of a shipped task.
INVENTED_NAMES = ["Alex Carter", "Ben", "Chris Doe", "Dave", "Eve Lin"]
INVENTED_NUMBERS = ["17", "250", "3.5", "9000", "64"]


def generic_distractors(reference: str) -> list[str]:
    """Other candidates for a task that names none: neighbours of a number, otherwise stand-ins."""
    if re.fullmatch(r"-?\d+", reference.strip()):
        value = int(reference)
        return [str(value + 1), str(value - 1), str(value * 10)]
    if re.fullmatch(r"-?\d*\.\d+", reference.strip()):
        value = float(reference)
        return [f"{value + 0.1:g}", f"{value * 10:g}"]
    return [f"{reference}-2", "unknown", "none"]


def gaming_answers(reference: str, distractors: Sequence[str]) -> dict[str, str]:
    """Answers (by the name of their attack) that contain the reference but also other candidates."""
    if not distractors:
        raise ValueError("gaming answers need at least one other candidate")
    other, everything = distractors[0], [*distractors, reference]
    invented = INVENTED_NUMBERS if re.search(r"\d", reference) else INVENTED_NAMES
    return {
        "list, right one first": f"{reference}, {other}",
        "list, right one last": f"{other}, {reference}",
        "every candidate": ", ".join(everything),
        "every candidate, one per line": "\n".join(everything),
        "every candidate, spaces only": " ".join(everything),
        "every candidate, semicolons": "; ".join(everything),
        "every candidate, slashes": "/".join(everything),
        "hedge with or": f"{reference} or {other}",
        "hedge with or, right one last": f"{other} or {reference}",
        "either ... or": f"either {other} or {reference}",
        "and": f"{reference} and {other}",
        "parenthesised alternative": f"{reference} (or maybe {other})",
        "possibly": f"{reference}, possibly {other}",
        "pipe": f"{reference} | {other}",
        "range": f"{reference}-{other}",
        "two words": f"{other} {reference}",
        "hidden in an invented list": ", ".join([*invented[:2], reference, *invented[2:]]),
        "hidden in an invented list with a candidate": " ".join([*invented[:2], reference, other, *invented[2:]]),
    }


def assert_refuses_gaming(judge: Callable[[str], bool], reference: str, distractors: Sequence[str],
                          only: Sequence[str] | None = None) -> None:
    """``judge(reference)`` passes, and every gaming answer (those named in ``only``, if given) fails."""
    assert judge(reference), f"the reference answer {reference!r} fails its own check"
    answers = gaming_answers(reference, distractors)
    passed = {name: answer for name, answer in answers.items()
              if (only is None or name in only) and judge(answer)}
    assert not passed, f"gaming answers that pass (reference {reference!r}): {passed}"
