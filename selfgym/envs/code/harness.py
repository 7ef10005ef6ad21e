"""Unit tests of a code task: instrumented on the host, run in a sandbox by a judge that the code under test cannot
reach, read back and checked.

A test suite is a module that defines ``check(candidate)`` (the HumanEval convention). Every top-level statement
of ``check`` that contains an ``assert`` is one test; the others (imports, ``rng = random.Random(42)``) are setup
and run in order. ``assert <constant>`` statements (HumanEval's ``assert True, "..."``) are not tests. Each test is
wrapped in ``with __selfgym_test__(i):`` so it reports on its own, under its own timeout, and the first call of the
function under test in a top-level ``assert`` is wrapped in ``__selfgym_probe__(i, ...)`` so feedback can show what
the function returned.

Where it runs (:func:`run_attempt`): the tests, the task's own helpers and every comparison run in the *judge*
(``judge.py``) under the sandbox's verifier uid; the solution runs in the *subject* (``subject.py``) under the
agent's uid, and answers the judge's calls with plain data (``values.py``). Only the judge's report decides the
reward; see ``judge.py`` for what that rules out.
"""

from __future__ import annotations

import ast
import builtins
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ...sandbox import JudgedResult, PythonProgram

if TYPE_CHECKING:
    from ...sandbox import Sandbox
from .extract import prompt_context

def _sandbox_program(name: str) -> str:
    folder = resources.files("selfgym.envs.code")
    return folder.joinpath("values.py").read_text(encoding="utf-8") + "\n" + folder.joinpath(name).read_text(
        encoding="utf-8")


JUDGE_SOURCE = _sandbox_program("judge.py")
SUBJECT_SOURCE = _sandbox_program("subject.py")
JUDGE = PythonProgram(JUDGE_SOURCE, public=True)
SUBJECT = PythonProgram(SUBJECT_SOURCE, public=True)
CHECK_FUNCTION = "check"
TEST_WRAPPER = "__selfgym_test__"
PROBE = "__selfgym_probe__"


@dataclass(frozen=True)
class TestSuite:
    """Tests ready to run: ``tests`` are their source texts (what feedback quotes), ``source`` the instrumented
    module the judge executes, ``remote`` the names it calls that only the solution defines (MBPP's tests call the
    function by its name)."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    tests: tuple[str, ...]
    source: str
    remote: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestPlan:
    """What one task's attempts run: visible tests (feedback) then hidden tests (reward), after the task's own
    helpers (``context``: the prompt's imports and functions, never the solution's)."""

    __test__ = False  # not a pytest test class, despite the name

    entry_point: str
    visible: TestSuite
    hidden: TestSuite
    context: str = ""


@dataclass
class TestResult:
    """The outcome of one test. ``error`` is the exception type, ``"Timeout"``, or ``"NotRun"``."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    passed: bool
    error: str | None = None
    message: str = ""
    traceback: str = ""
    output: str | None = None
    timed_out: bool = False


@dataclass
class AttemptReport:
    """Everything one attempt produced. ``load_error`` is set when the solution failed before any test ran;
    ``ended_early`` says why the run stopped before all tests reported (time limit, memory, exit, crash)."""

    visible: list[TestResult]
    hidden: list[TestResult]
    load_error: TestResult | None = None
    ended_early: str | None = None
    timed_out: bool = False
    pids_limited: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.hidden)

    @property
    def total(self) -> int:
        return len(self.hidden)

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @property
    def any_timed_out(self) -> bool:
        return self.timed_out or any(r.timed_out for r in (*self.visible, *self.hidden))


# --- building suites ---------------------------------------------------------------------------------------------

def _contains_assert(node: ast.AST) -> bool:
    return any(isinstance(child, ast.Assert) for child in ast.walk(node))


def _is_trivial_assert(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assert) and isinstance(node.test, ast.Constant)


class _Source:
    """A module's text split into lines once (``ast.get_source_segment`` splits it again on every call)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)

    def segment(self, node: ast.AST) -> str:
        if getattr(node, "end_lineno", None) is None:
            return ast.unparse(node)
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            text = self.lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        else:
            head = self.lines[first].encode()[node.col_offset:].decode()
            tail = self.lines[last].encode()[:node.end_col_offset].decode()
            text = " " * node.col_offset + head + "".join(self.lines[first + 1:last]) + tail
        return textwrap.dedent(text).strip() or ast.unparse(node)


def _test_text(source: _Source, node: ast.stmt) -> str:
    """How feedback quotes a test: an assert without its message, or the whole statement (a loop of asserts)."""
    if isinstance(node, ast.Assert):
        return f"assert {source.segment(node.test)}"
    return source.segment(node)


def _probe_first_call(node: ast.Assert, index: int, callees: set[str]) -> None:
    """Wrap the first call of the function under test in ``node.test`` so its return value is recorded."""
    for parent in ast.walk(node):
        for name, value in ast.iter_fields(parent):
            children = value if isinstance(value, list) else [value]
            for position, child in enumerate(children):
                if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id in callees:
                    probed = ast.Call(ast.Name(PROBE, ast.Load()), [ast.Constant(index), child], [])
                    if isinstance(value, list):
                        value[position] = probed
                    else:
                        setattr(parent, name, probed)
                    return


def free_names(tree: ast.AST) -> set[str]:
    """The names a module reads but never binds (nor are they built-ins)."""
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return read - bound - set(dir(builtins))


def instrument(module_source: str, name: str, entry_point: str, context_names: frozenset[str] = frozenset()
               ) -> TestSuite:
    """Turn a module defining ``check(candidate)`` into a :class:`TestSuite` (see the module docstring);
    ``context_names`` are the names the task's helpers define (the rest the tests read come from the solution)."""
    try:
        tree = ast.parse(module_source)
    except SyntaxError as exc:
        raise ValueError(f"the {name} test code is not valid Python: {exc}") from None
    checks = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == CHECK_FUNCTION]
    if not checks:
        raise ValueError(f"the {name} test code must define a function {CHECK_FUNCTION}(candidate)")
    check = checks[-1]
    remote = sorted(free_names(tree) - context_names - {entry_point, "candidate"})
    text = _Source(module_source)
    tests: list[str] = []
    body: list[ast.stmt] = []
    for statement in check.body:
        if not _contains_assert(statement) or _is_trivial_assert(statement):
            body.append(statement)
            continue
        index = len(tests)
        tests.append(_test_text(text, statement))
        if isinstance(statement, ast.Assert):
            _probe_first_call(statement, index, {"candidate", entry_point})
        wrapper = ast.Call(ast.Name(TEST_WRAPPER, ast.Load()), [ast.Constant(index)], [])
        body.append(ast.With(items=[ast.withitem(context_expr=wrapper)], body=[statement]))
    if not tests:
        raise ValueError(f"the {name} test code has no assert statements in {CHECK_FUNCTION}()")
    check.body = body
    return TestSuite(name, tuple(tests), ast.unparse(ast.fix_missing_locations(tree)), tuple(remote))


def check_module(statements: Sequence[str]) -> str:
    """A module whose ``check(candidate)`` runs ``statements`` (asserts) in order."""
    body = "\n".join(textwrap.indent(textwrap.dedent(statement).strip(), "    ") for statement in statements)
    return f"def {CHECK_FUNCTION}(candidate):\n{body or '    pass'}\n"


@lru_cache(maxsize=2048)
def build_plan(entry_point: str, test: str, visible_tests: tuple[str, ...], test_setup: str = "",
               prompt_code: str = "") -> TestPlan:
    """The :class:`TestPlan` of a task (cached: tasks repeat across episodes). ``ValueError`` on bad test code."""
    setup = f"{test_setup.rstrip()}\n\n" if test_setup.strip() else ""
    context = prompt_context(prompt_code, entry_point) if prompt_code else ""
    try:
        context_names = frozenset(_defined_names(ast.parse(context)))
    except SyntaxError as exc:
        raise ValueError(f"the prompt's code is not valid Python: {exc}") from None
    hidden = instrument(setup + test, "hidden", entry_point, context_names)
    visible = instrument(setup + check_module(visible_tests), "visible", entry_point, context_names) \
        if visible_tests else TestSuite("visible", (), "")
    return TestPlan(entry_point, visible, hidden, context)


def _defined_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def plain_asserts(test: str, limit: int) -> list[str]:
    """Up to ``limit`` top-level asserts of ``check`` that need nothing but ``candidate`` and builtins (so they
    can run on their own), as source text."""
    tree = ast.parse(test)
    text = _Source(test)
    checks = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == CHECK_FUNCTION]
    found = []
    for statement in checks[-1].body if checks else []:
        if len(found) >= limit:
            break
        if not isinstance(statement, ast.Assert) or _is_trivial_assert(statement):
            continue
        names = {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}
        if names <= {"candidate"} | set(dir(builtins)):
            found.append(_test_text(text, statement))
    return found


# --- running them ------------------------------------------------------------------------------------------------

def run_attempt(sandbox: Sandbox, solution: str, plan: TestPlan, *, timeout_s: float, test_timeout_s: float,
                context: str = "") -> AttemptReport:
    """Run ``solution`` (after ``context``, in the same namespace) against the plan's visible and hidden tests in
    ``sandbox``; never raises for anything the solution does. ``SandboxLostError`` when the sandbox was lost for
    a reason outside the solution (the env replays the attempt)."""
    suites = [suite for suite in (plan.visible, plan.hidden) if suite.tests]
    payload = {
        "solution_context": context, "solution": solution, "prompt_context": plan.context,
        "entry_point": plan.entry_point, "test_timeout_s": test_timeout_s,
        "suites": [{"name": s.name, "source": s.source, "details": s is plan.visible, "remote": list(s.remote)}
                   for s in suites],
    }
    # The programs ship with selfgym (public); the task's tests and the solution travel on the judge's stdin.
    result = sandbox.run_judged(JUDGE, SUBJECT, stdin=json.dumps(payload), timeout_s=timeout_s)
    return read_report(result, plan, timeout_s)


def _records(stdout: str) -> list[dict[str, Any]]:
    """The judge's report lines (the judge is out of the solution's reach; its lines are still parsed warily)."""
    records = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


_SUBJECT_GONE = {
    "unresponsive": "your code stopped responding (it ran past a test's time limit and did not stop)",
    "protocol": "your code interfered with the test harness (it wrote to its channel, or forked)",
    "too_large": "your function returned a value larger than 16 MiB",
}


def _why_it_ended(result: JudgedResult, reason: str | None, timeout_s: float, during_hidden: bool) -> str:
    judge = result.judge
    if judge.timed_out:
        return f"the attempt ran past its time limit of {timeout_s:g} s and was stopped"
    if judge.oom_killed:
        return "the program ran out of memory and was killed"
    if judge.pids_limited:
        return "the program started too many processes (the sandbox's process limit) and was stopped"
    if during_hidden:
        # The solution has seen hidden tests' inputs by now: how it chose to end (an exit code, a signal, breaking
        # the harness's channel) would carry them out to the agent, so every such end reads the same.
        return "the program ended before the hidden tests finished"
    if reason in _SUBJECT_GONE:
        return _SUBJECT_GONE[reason]
    code = result.subject_exit_code
    if code is not None and code > 128:
        return f"the program was killed by signal {code - 128}"
    if code:
        return f"the program exited with code {code} before the tests finished"
    return "the program exited before the tests finished (did it call sys.exit() or os._exit()?)"


def _result_of(test: str, record: dict[str, Any] | None, missing: str | None) -> TestResult:
    if record is None:
        return TestResult(test, False, "NotRun", missing or "the test did not run")
    passed = record.get("passed") is True
    output = record.get("output")
    return TestResult(
        test, passed, None if passed else str(record.get("error", "Error"))[:100], str(record.get("message", ""))[:500],
        str(record.get("traceback", ""))[-2000:], str(output)[:500] if output is not None else None,
        record.get("timed_out") is True,
    )


def read_report(result: JudgedResult, plan: TestPlan, timeout_s: float) -> AttemptReport:
    """Turn the judge's report into an :class:`AttemptReport`. A test without a record of its own failed."""
    records = _records(result.judge.stdout)
    done = any(r.get("kind") == "done" for r in records)
    ended = next((r for r in records if r.get("kind") == "ended"), None)
    hidden_started = (ended is not None and ended.get("during") == plan.hidden.name) or any(
        r.get("suite") == plan.hidden.name for r in records)
    ended_early = None if done and ended is None else _why_it_ended(
        result, str(ended.get("reason")) if ended else None, timeout_s, hidden_started)
    load = next((r for r in records if r.get("kind") == "load"), None)
    if load is None and ended is not None and ended.get("during") == "load":
        load = {"error": "LoadError", "message": ended_early, "traceback": ""}
    load_error = _result_of("loading your code", load, None) if load else None
    judge = result.judge
    report = AttemptReport([], [], load_error, ended_early, judge.timed_out, judge.pids_limited, judge.duration_s)
    for suite, results in ((plan.visible, report.visible), (plan.hidden, report.hidden)):
        by_index: dict[int, dict[str, Any]] = {}
        for record in records:
            if record.get("kind") == "test" and record.get("suite") == suite.name and type(record.get("index")) is int:
                by_index.setdefault(record["index"], record)
        suite_error = next((r for r in records if r.get("kind") == "suite" and r.get("suite") == suite.name), None)
        if load_error is not None:
            missing = f"your code failed to load ({load_error.error})"
        elif suite_error is not None:
            missing = f"the test setup raised {suite_error.get('error')}: {suite_error.get('message', '')}"
        else:
            missing = ended_early
        results.extend(_result_of(test, by_index.get(i), missing) for i, test in enumerate(suite.tests))
    if judge.pids_limited:
        report.notes.append("Your code hit the sandbox's limit on processes (a fork bomb?).")
    if judge.oom_killed:
        report.notes.append("Your code ran out of memory.")
    return report
