"""From a model's reply to a program to test: find the code, complete it with the prompt, check its syntax.

Rules, in order:

1. **Finding the code.** Fenced blocks (```` ``` ```` or ``~~~``) tagged ``python``/``py``/``python3`` or untagged
   are candidates; blocks tagged with another language (``bash``, ``text``, ``output``) are not. A fence left open
   at the end of the reply runs to the end. Among the candidates the last one that defines the entry point wins,
   else the longest. A reply without any fence is taken as raw code.
2. **Completing it with the prompt** (tasks whose prompt is code, like HumanEval):

   * code that defines the entry point at top level is a whole solution; the prompt's other top-level
     statements (imports, helper functions such as HumanEval/32's ``poly``) run before it, so a solution may
     use them without repeating them;
   * otherwise the code is the function's body (a HumanEval completion): appended to the prompt as is when its
     first line is indented, indented by four spaces when it is flush left.

   Without prompt code (MBPP) the code must define the entry point itself.
3. **Syntax** is checked with ``compile()`` on the host (never ``exec``); errors are reported with line numbers
   of the reply's code.

Nothing here raises for a bad reply: :func:`build_solution` returns a :class:`Solution` whose ``problem`` says
what was wrong and what was expected.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

_FENCE = re.compile(
    # possessive quantifiers: a line of 60,000 backticks must not make the opening fence backtrack quadratically
    r"^[ \t]*+(?P<fence>`{3,}+|~{3,}+)[ \t]*+(?P<lang>[\w+.#-]*+)[^\n]*+\n(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
PYTHON_TAGS = {"", "python", "py", "python3", "py3"}


@dataclass(frozen=True)
class Solution:
    """The program to run (``code``, run after ``context``: the prompt's imports and helpers, kept apart so that
    line numbers in tracebacks are the reply's own), or why there is none (``problem`` for the agent, ``error`` a
    short kind: ``"empty"``, ``"no_code"``, ``"syntax_error"``, ``"missing_entry_point"``)."""

    code: str | None
    problem: str | None = None
    error: str | None = None
    context: str = ""


def fenced_blocks(text: str) -> tuple[list[str], bool]:
    """The Python (or untagged) fenced blocks of ``text``, and whether ``text`` has any fence at all."""
    blocks, any_fence = [], False
    for match in _FENCE.finditer(text):
        any_fence = True
        if match["lang"].lower() in PYTHON_TAGS:
            blocks.append(match["body"])
    return blocks, any_fence


def _defines(code: str, name: str) -> bool:
    """Whether ``code`` defines ``name`` at top level (def, class or assignment)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return True
    return False


def extract_code(text: str, entry_point: str) -> tuple[str, bool]:
    """The code of a reply (rule 1) and whether it came from a fenced block."""
    blocks, any_fence = fenced_blocks(text)
    if not any_fence:
        return text, False
    if not blocks:
        return "", True
    defining = [block for block in blocks if re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point)}\s*\(",
                                                        block, re.MULTILINE)]
    return (defining[-1] if defining else max(blocks, key=len)), True


def syntax_problem(code: str, line_offset: int = 0) -> str | None:
    """Why ``code`` does not compile (``None`` when it does); line numbers shifted back by ``line_offset``."""
    try:
        compile(code, "solution.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = (exc.lineno or 0) - line_offset
        where = f" (line {line}: {exc.text.strip()!r})" if exc.text and line > 0 else ""
        return f"{type(exc).__name__}: {exc.msg}{where}"
    except (RecursionError, MemoryError):
        return "the code is nested too deeply to compile"
    except (ValueError, OverflowError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def prompt_context(prompt_code: str, entry_point: str) -> str:
    """``prompt_code`` without the entry point's stub: its imports, helpers and constants."""
    try:
        tree = ast.parse(prompt_code)
    except SyntaxError:
        return ""
    kept = [ast.get_source_segment(prompt_code, node) or ast.unparse(node) for node in tree.body
            if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point)]
    return "\n\n".join(kept)


def _expected(entry_point: str) -> str:
    return f"Reply with the complete Python function `{entry_point}` in a ```python code block."


def build_solution(text: str, entry_point: str, prompt_code: str = "") -> Solution:
    """The program to run for a reply (rules 2 and 3), or the problem with it."""
    if not text.strip():
        return Solution(None, f"Your reply was empty. {_expected(entry_point)}", "empty")
    code, fenced = extract_code(text, entry_point)
    if not code.strip():
        return Solution(None, f"Your reply has no ```python code block (only blocks in other languages). "
                              f"{_expected(entry_point)}", "no_code")
    whole = textwrap.dedent(code)
    if _defines(whole, entry_point) or re.search(rf"^(async\s+)?def\s+{re.escape(entry_point)}\s*\(", whole, re.M):
        context = prompt_context(prompt_code, entry_point) if prompt_code else ""
        program = whole
        problem = syntax_problem(whole)
    elif prompt_code:
        first = next(line for line in code.splitlines() if line.strip())
        body = code if first[:1] in (" ", "\t") else textwrap.indent(whole, "    ")
        program, context = prompt_code.rstrip("\n") + "\n" + body, ""
        problem = syntax_problem(program, line_offset=prompt_code.rstrip("\n").count("\n") + 1)
    else:
        context = ""
        problem = syntax_problem(whole)
        if problem is None:
            return Solution(None, f"Your code does not define a function named `{entry_point}`; the tests call it. "
                                  f"{_expected(entry_point)}", "missing_entry_point")
    if problem is not None:
        if not fenced:
            return Solution(None, f"I found no ```python code block in your reply, and the reply is not valid "
                                  f"Python on its own ({problem}). {_expected(entry_point)}", "no_code")
        return Solution(None, f"Your code does not compile: {problem}. Fix it. {_expected(entry_point)}",
                        "syntax_error")
    return Solution(program, context=context)
