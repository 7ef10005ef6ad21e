"""Shell tasks: their specification (validated with pydantic), YAML task files, and the shipped task set.

A task file is a YAML list of entries::

    - id: shell/text-001
      difficulty: 1                # 0 (one obvious command) .. 3 (several steps, less common tools)
      category: text               # files, text, archives, git, processes, ...
      prompt: Count the lines of /work/app.log that contain ERROR and write the number to /work/count.txt.
      setup: |                     # bash (-e), run in /work before the episode; may write files
        printf 'ERROR a\nok\nERROR b\n' > app.log
      check: |                     # bash (-e), run in /work after `submit`; exit 0 = solved (reward 1)
        [ "$(cat count.txt)" = 2 ]
      solution:                    # reference actions, ending with a submit
        - grep -c ERROR app.log > count.txt
        - submit

Tasks that ask for an answer take it as ``submit <answer>``; the check reads it from ``$SELFGYM_ANSWER``. The check
runs under the verifier's uid, out of the agent's reach; to run the agent's programs or tools that execute code from
the agent's files (git, make, pytest, ``bash script.sh``), it calls ``as_agent CMD ...`` and judges their output
(see :mod:`selfgym.sandbox.checks`; a check that calls them directly is refused). To read a git repository it calls
``vgit REPO ARGS...`` (git on a snapshot of the repository's data: nothing the agent configured runs); to find
processes, ``vpgrep [-o] PROGRAM CMDLINE`` (the program that really runs; ``-o``: only those the setup started).
What a check compares with lives in the check: one that reads its reference from the agent's reach (a digest file
the setup wrote, an input compared with the output) is refused (:mod:`selfgym.sandbox.reference_lint`).
``keep_background: true`` keeps the processes that setup and the agent's commands leave running (the
``processes`` tasks); otherwise every process a command started is killed when it ends.
Everything but ``id``, ``prompt`` and ``difficulty`` goes in ``Task.data``, so curricula can write new tasks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...sandbox.checks import lint_check
from ...sandbox.reference_lint import reference_problems
from ..harbor.reader import read_tasks
from ..sources import TaskList
from ..task import Task

FAMILY = "shell"
SHIPPED_TASKS_PACKAGE = "selfgym.envs.shell"
SHIPPED_TASKS_DIR = "tasks"
_SUBMIT = re.compile(r"\s*submit(?:\s+(?P<answer>.*?))?\s*", re.DOTALL)


def parse_submit(action: str) -> str | None:
    """The answer of a ``submit`` action ("" for a bare ``submit``), or None when the action is a command."""
    match = _SUBMIT.fullmatch(action)
    if match is None:
        return None
    return match.group("answer") or ""


class ShellTaskSpec(BaseModel):
    """What ``Task.data`` of a shell task holds: how to set the container up and how to judge it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(min_length=1)
    setup: str = ""
    check: str = Field(min_length=1)
    solution: list[str] = Field(min_length=1)
    keep_background: bool = False

    @field_validator("check")
    @classmethod
    def _runs_no_agent_code_as_verifier(cls, check: str) -> str:
        problem = lint_check(check)
        if problem:
            raise ValueError(problem)
        return check

    @field_validator("solution")
    @classmethod
    def _ends_with_one_submit(cls, solution: list[str]) -> list[str]:
        if parse_submit(solution[-1]) is None:
            raise ValueError("the last action of a solution must be a submit ('submit' or 'submit <answer>')")
        if any(parse_submit(action) is not None for action in solution[:-1]):
            raise ValueError("only the last action of a solution may be a submit")
        return solution


class ShellTaskEntry(ShellTaskSpec):
    """One entry of a YAML task file: the spec plus the task's id, prompt and difficulty."""

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    difficulty: int = Field(ge=0, le=3)

    @model_validator(mode="after")
    def _compares_with_nothing_the_agent_can_write(self) -> ShellTaskEntry:
        check_references(self.check, setup=self.setup, instruction=self.prompt)
        return self

    def to_task(self) -> Task:
        data = self.model_dump(include=set(ShellTaskSpec.model_fields))
        return Task(id=self.id, family=FAMILY, prompt=self.prompt.strip(), difficulty=self.difficulty,
                    data=data)


def check_references(check: str, *, setup: str, instruction: str) -> None:
    """``ValueError`` when ``check`` compares with a value in the agent's reach (:mod:`~selfgym.sandbox.reference_lint`)."""
    problems = reference_problems(check, setup=setup, instruction=instruction)
    if problems:
        raise ValueError("the check compares with values the agent can write: " + "; ".join(problems))


def spec_of(task: Task) -> ShellTaskSpec:
    """The validated spec of ``task`` (``ValueError`` naming the bad or missing keys, or a check that compares with
    a value the agent can write)."""
    try:
        spec = ShellTaskSpec.model_validate(dict(task.data))
    except ValidationError as exc:
        raise ValueError(f"task {task.id!r} is not a valid shell task: {exc}") from None
    try:
        check_references(spec.check, setup=spec.setup, instruction=task.prompt)
    except ValueError as exc:
        raise ValueError(f"task {task.id!r}: {exc}") from None
    return spec


def tasks_from_entries(entries: Any, origin: str) -> list[Task]:
    """Tasks from a parsed YAML document (a list of entries); errors name ``origin`` and the entry."""
    if not isinstance(entries, list):
        raise ValueError(f"{origin}: expected a YAML list of tasks, got {type(entries).__name__}")
    tasks = []
    for number, entry in enumerate(entries, start=1):
        name = entry.get("id", f"entry {number}") if isinstance(entry, Mapping) else f"entry {number}"
        try:
            tasks.append(ShellTaskEntry.model_validate(entry).to_task())
        except ValidationError as exc:
            raise ValueError(f"{origin}: task {name!r}: {exc}") from None
    return tasks


def load_task_file(path: str | Path) -> list[Task]:
    """Read a YAML task file (the format in this module's docstring), or a Harbor or terminal-bench task
    directory, or a folder of them (:mod:`selfgym.envs.harbor`)."""
    path = Path(path)
    if path.is_dir():
        return read_tasks(path, family=FAMILY)
    with path.open(encoding="utf-8") as fh:
        return tasks_from_entries(yaml.safe_load(fh), str(path))


def shipped_tasks_dir() -> Path:
    """The folder of the shipped shell tasks, one Harbor task directory each."""
    return Path(str(resources.files(SHIPPED_TASKS_PACKAGE).joinpath(SHIPPED_TASKS_DIR)))


@cache
def _shipped() -> tuple[Task, ...]:
    return tuple(read_tasks(shipped_tasks_dir(), family=FAMILY))


def shipped_tasks() -> TaskList:
    """The shell tasks that ship with selfgym (``selfgym/envs/shell/tasks/<name>/``, Harbor task directories),
    in name order."""
    return TaskList(_shipped(), FAMILY)


