"""The Python tool of the math env: ``<python>…</python>`` blocks run in the sandbox (program-aided reasoning)."""

from __future__ import annotations

import re

from typing import TYPE_CHECKING

from ...sandbox import ExecResult

if TYPE_CHECKING:
    from ...sandbox import Sandbox
from .answers import tagged_blocks

_FENCE = re.compile(r"^\s*```(?:python|py)?[ \t]*\n(.*?)\n?```\s*$", re.S)
MAX_TOOL_OUTPUT_CHARS = 4_000


def python_blocks(text: str) -> tuple[str, int] | None:
    """The code of every ``<python>`` block in ``text`` (joined in order, Markdown fences dropped) and where the
    last block ends; ``None`` when there is none."""
    blocks = tagged_blocks(text, "python")
    if not blocks:
        return None
    return "\n".join(_unfence(text[start:end]) for start, end in blocks), blocks[-1][1] + len("</python>")


def _unfence(code: str) -> str:
    fenced = _FENCE.match(code)
    return fenced.group(1) if fenced else code.strip("\n")


def run_python(sandbox: Sandbox, code: str, *, step: int, timeout_s: float) -> ExecResult:
    """Run ``code`` as ``/work/step_<step>.py``; files written in earlier steps of the episode stay in ``/work``."""
    script = f"step_{step}.py"
    sandbox.write_files({script: code})
    return sandbox.run(["python3", script], timeout_s=timeout_s)


def format_output(result: ExecResult, timeout_s: float, limit: int = MAX_TOOL_OUTPUT_CHARS) -> str:
    """What the model sees of a run: stdout and stderr (the middle cut when long) and how it ended."""
    output = result.stdout + (("\n" if result.stdout and not result.stdout.endswith("\n") else "") + result.stderr
                              if result.stderr else "")
    if len(output) > limit:
        half = limit // 2
        output = f"{output[:half]}\n[... {len(output) - limit:,} characters cut ...]\n{output[-half:]}"
    notes = []
    if result.timed_out:
        notes.append(f"timed out after {timeout_s:g} s and was killed")
    elif result.oom_killed:
        notes.append("killed: out of memory")
    elif result.exit_code != 0:
        notes.append(f"exit code {result.exit_code}")
    if result.truncated:
        notes.append("output truncated by the sandbox")
    status = f" ({'; '.join(notes)})" if notes else ""
    return f"Python output{status}:\n{output.rstrip() or '(no output)'}"
