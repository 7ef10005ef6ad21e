"""Unit tests of a code task: instrumented on the host, run in a sandbox by ``runner.py``, read back and checked.

A test suite is a module that defines ``check(candidate)`` (the HumanEval convention). Every top-level statement
of ``check`` that contains an ``assert`` is one test; the others (imports, ``rng = random.Random(42)``) are setup
and run in order. ``assert <constant>`` statements (HumanEval's ``assert True, "..."``) are not tests. Each test is
wrapped in ``with __selfgym_test__(i):`` so it reports on its own, under its own timeout, and the first call of the
function under test in a top-level ``assert`` is wrapped in ``__selfgym_probe__(i, ...)`` so feedback can show what
the function returned.
"""

from __future__ import annotations

import ast
import builtins
import json
import secrets
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from ...sandbox import ExecResult, Sandbox

RUNNER_SOURCE = resources.files("selfgym.envs.code").joinpath("runner.py").read_text(encoding="utf-8")
CHECK_FUNCTION = "check"
TEST_WRAPPER = "__selfgym_test__"
PROBE = "__selfgym_probe__"


@dataclass(frozen=True)
class TestSuite:
    """Tests ready to run: ``tests`` are their source texts (what feedback quotes), ``source`` the instrumented
    module the runner executes."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    tests: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class TestPlan:
    """What one task's attempts run: visible tests (feedback) then hidden tests (reward)."""

    __test__ = False  # not a pytest test class, despite the name

    entry_point: str
    visible: TestSuite
    hidden: TestSuite


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


def _source_text(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node, padded=True)
    return textwrap.dedent(text).strip() if text else ast.unparse(node)


def _test_text(source: str, node: ast.stmt) -> str:
    """How feedback quotes a test: an assert without its message, or the whole statement (a loop of asserts)."""
    if isinstance(node, ast.Assert):
        return f"assert {_source_text(source, node.test)}"
    return _source_text(source, node)


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


def instrument(module_source: str, name: str, entry_point: str) -> TestSuite:
    """Turn a module defining ``check(candidate)`` into a :class:`TestSuite` (see the module docstring)."""
    try:
        tree = ast.parse(module_source)
    except SyntaxError as exc:
        raise ValueError(f"the {name} test code is not valid Python: {exc}") from None
    checks = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == CHECK_FUNCTION]
    if not checks:
        raise ValueError(f"the {name} test code must define a function {CHECK_FUNCTION}(candidate)")
    check = checks[-1]
    tests: list[str] = []
    body: list[ast.stmt] = []
    for statement in check.body:
        if not _contains_assert(statement) or _is_trivial_assert(statement):
            body.append(statement)
            continue
        index = len(tests)
        tests.append(_test_text(module_source, statement))
        if isinstance(statement, ast.Assert):
            _probe_first_call(statement, index, {"candidate", entry_point})
        wrapper = ast.Call(ast.Name(TEST_WRAPPER, ast.Load()), [ast.Constant(index)], [])
        body.append(ast.With(items=[ast.withitem(context_expr=wrapper)], body=[statement]))
    if not tests:
        raise ValueError(f"the {name} test code has no assert statements in {CHECK_FUNCTION}()")
    check.body = body
    return TestSuite(name, tuple(tests), ast.unparse(ast.fix_missing_locations(tree)))


def check_module(statements: Sequence[str]) -> str:
    """A module whose ``check(candidate)`` runs ``statements`` (asserts) in order."""
    body = "\n".join(textwrap.indent(textwrap.dedent(statement).strip(), "    ") for statement in statements)
    return f"def {CHECK_FUNCTION}(candidate):\n{body or '    pass'}\n"


@lru_cache(maxsize=2048)
def build_plan(entry_point: str, test: str, visible_tests: tuple[str, ...], test_setup: str = "") -> TestPlan:
    """The :class:`TestPlan` of a task (cached: tasks repeat across episodes). ``ValueError`` on bad test code."""
    setup = f"{test_setup.rstrip()}\n\n" if test_setup.strip() else ""
    hidden = instrument(setup + test, "hidden", entry_point)
    visible = instrument(setup + check_module(visible_tests), "visible", entry_point) if visible_tests else \
        TestSuite("visible", (), "")
    return TestPlan(entry_point, visible, hidden)


def plain_asserts(test: str, limit: int) -> list[str]:
    """Up to ``limit`` top-level asserts of ``check`` that need nothing but ``candidate`` and builtins (so they
    can run on their own), as source text."""
    tree = ast.parse(test)
    checks = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == CHECK_FUNCTION]
    found = []
    for statement in checks[-1].body if checks else []:
        if len(found) >= limit:
            break
        if not isinstance(statement, ast.Assert) or _is_trivial_assert(statement):
            continue
        names = {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}
        if names <= {"candidate"} | set(dir(builtins)):
            found.append(f"assert {_source_text(test, statement.test)}")
    return found


# --- running them ------------------------------------------------------------------------------------------------

def run_attempt(sandbox: Sandbox, solution: str, plan: TestPlan, *, timeout_s: float, test_timeout_s: float,
                context: str = "") -> AttemptReport:
    """Run ``solution`` (after ``context``, in the same namespace) against the plan's visible and hidden tests in
    ``sandbox``; never raises for anything the solution does."""
    nonce = secrets.token_hex(16)
    suites = [suite for suite in (plan.visible, plan.hidden) if suite.tests]
    payload = {
        "nonce": nonce, "context": context, "solution": solution, "entry_point": plan.entry_point,
        "test_timeout_s": test_timeout_s,
        "suites": [{"name": s.name, "source": s.source, "details": s is plan.visible} for s in suites],
    }
    result = sandbox.run(["python3", "-I", "-c", RUNNER_SOURCE], stdin=json.dumps(payload), timeout_s=timeout_s)
    return read_report(result, nonce, plan, timeout_s)


def _signed_records(stdout: str, nonce: str) -> list[dict[str, Any]]:
    records = []
    for line in stdout.splitlines():
        if not line.startswith(nonce):
            continue  # anything the solution managed to print is not a result
        try:
            record = json.loads(line[len(nonce):])
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _why_it_ended(result: ExecResult, timeout_s: float) -> str:
    if result.timed_out:
        return f"the attempt ran past its time limit of {timeout_s:g} s and was stopped"
    if result.oom_killed:
        return "the program ran out of memory and was killed"
    if result.pids_limited:
        return "the program started too many processes (the sandbox's process limit) and was stopped"
    if result.exit_code > 128:
        return f"the program was killed by signal {result.exit_code - 128}"
    if result.exit_code != 0:
        return f"the program exited with code {result.exit_code} before the tests finished"
    return "the program exited before the tests finished (did it call sys.exit() or os._exit()?)"


def _result_of(test: str, record: dict[str, Any] | None, missing: str | None) -> TestResult:
    if record is None:
        return TestResult(test, False, "NotRun", missing or "the test did not run")
    passed = record.get("passed") is True
    return TestResult(
        test, passed, None if passed else str(record.get("error", "Error")), str(record.get("message", "")),
        str(record.get("traceback", "")), record.get("output"), bool(record.get("timed_out", False)),
    )


def read_report(result: ExecResult, nonce: str, plan: TestPlan, timeout_s: float) -> AttemptReport:
    """Turn the runner's signed output into an :class:`AttemptReport`. A test without a signed result failed."""
    records = _signed_records(result.stdout, nonce)
    done = any(r.get("kind") == "done" for r in records)
    ended_early = None if done else _why_it_ended(result, timeout_s)
    load = next((r for r in records if r.get("kind") == "load"), None)
    load_error = _result_of("loading your code", load, None) if load else None
    report = AttemptReport([], [], load_error, ended_early, result.timed_out, result.pids_limited,
                           result.duration_s)
    for suite, results in ((plan.visible, report.visible), (plan.hidden, report.hidden)):
        by_index: dict[int, dict[str, Any]] = {}
        for record in records:
            if record.get("kind") == "test" and record.get("suite") == suite.name:
                by_index.setdefault(record.get("index"), record)
        suite_error = next((r for r in records if r.get("kind") == "suite" and r.get("suite") == suite.name), None)
        if load_error is not None:
            missing = f"your code failed to load ({load_error.error})"
        elif suite_error is not None:
            missing = f"the test setup raised {suite_error.get('error')}: {suite_error.get('message', '')}"
        else:
            missing = ended_early
        results.extend(_result_of(test, by_index.get(i), missing) for i, test in enumerate(suite.tests))
    if result.pids_limited:
        report.notes.append("Your code hit the sandbox's limit on processes (a fork bomb?).")
    if result.oom_killed:
        report.notes.append("Your code ran out of memory.")
    return report
