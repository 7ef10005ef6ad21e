"""The text an agent reads: the task statement, and Reflexion-style feedback on an attempt.

Feedback follows Reflexion's programming feedback ("Tests passed: ... Tests failed: ... # output: ...") for the
visible tests, with the exception and the solution's part of the traceback when a test raised. Hidden tests are
only counted, never quoted.
"""

from __future__ import annotations

import textwrap

from ..task import Task
from .harness import AttemptReport, TestResult

MAX_FAILURES_SHOWN = 5


def task_statement(task: Task, entry_point: str, max_attempts: int) -> str:
    """The first observation of an episode."""
    attempts = "one attempt" if max_attempts == 1 else f"{max_attempts} attempts"
    if task.data.get("prompt_code"):
        code = task.prompt.strip("\n").rstrip()
        return (f"Complete the Python function `{entry_point}` below. Reply with the complete function (with any "
                f"imports and helpers it needs) in a ```python code block. It is run against hidden unit tests; "
                f"you have {attempts}.\n\n```python\n{code}\n```")
    return (f"{task.prompt.rstrip()}\n\nReply with the Python function `{entry_point}` in a ```python code block. "
            f"It is run against hidden unit tests; you have {attempts}.")


def _failure(result: TestResult) -> str:
    if result.timed_out:
        return f"{result.test}  # timed out"
    if result.error == "NotRun":
        return f"{result.test}  # not run: {result.message}"
    if result.error == "AssertionError" and not result.traceback:
        output = f"  # output: {result.output}" if result.output is not None else ""
        return f"{result.test}{output}" + (f"\n    AssertionError: {result.message}" if result.message else "")
    lines = [f"{result.test}  # raised {result.error}: {result.message}".rstrip()]
    if result.traceback:
        lines.append(textwrap.indent("Traceback (most recent call last, your code only):\n" +
                                     result.traceback.rstrip(), "    "))
    return "\n".join(lines)


def _load_failure(result: TestResult) -> str:
    text = f"Your code raised {result.error} while being loaded: {result.message}".rstrip()
    if result.error == "Timeout":
        text = "Your code timed out while being loaded (an endless loop at top level?)."
    if result.traceback:
        text += "\n" + textwrap.indent(result.traceback.rstrip(), "    ")
    return text


def attempt_feedback(report: AttemptReport, *, attempt: int, max_attempts: int, entry_point: str) -> str:
    """The observation after an attempt."""
    if report.all_passed:
        return f"Attempt {attempt} of {max_attempts}: all {report.total} hidden tests passed. The task is solved."
    parts = [f"Attempt {attempt} of {max_attempts}: your solution failed ({report.passed} of {report.total} hidden "
             "tests passed)."]
    if report.load_error is not None:
        parts.append(_load_failure(report.load_error))
    elif report.visible:
        passed = [r.test for r in report.visible if r.passed]
        failed = [r for r in report.visible if not r.passed]
        if passed:
            parts.append("Tests passed:\n" + "\n".join(passed))
        if failed:
            shown = [_failure(r) for r in failed[:MAX_FAILURES_SHOWN]]
            if len(failed) > MAX_FAILURES_SHOWN:
                shown.append(f"... and {len(failed) - MAX_FAILURES_SHOWN} more")
            parts.append("Tests failed:\n" + "\n".join(shown))
        else:
            count = "The visible test" if len(report.visible) == 1 else f"All {len(report.visible)} visible tests"
            parts.append(f"{count} passed, but some hidden tests failed.")
    if report.ended_early and report.load_error is None:
        parts.append(f"The run stopped early: {report.ended_early}.")
    parts.extend(report.notes)
    left = max_attempts - attempt
    if left > 0:
        parts.append(f"Fix your code and reply with the complete function `{entry_point}` in a ```python block "
                     f"({left} attempt{'s' if left > 1 else ''} left).")
    else:
        parts.append("No attempts left.")
    return "\n\n".join(parts)


def invalid_attempt_feedback(problem: str, *, attempt: int, max_attempts: int) -> str:
    """The observation after a reply with no runnable code."""
    left = max_attempts - attempt
    tail = f"({left} attempt{'s' if left != 1 else ''} left)" if left > 0 else "No attempts left."
    return f"Attempt {attempt} of {max_attempts}: {problem} {tail}"
