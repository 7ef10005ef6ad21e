"""Task sources shared by the environments: a fixed list of tasks, and JSONL files read into one."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .task import Task


class TaskList:
    """A :class:`~selfgym.envs.TaskSource` over a fixed, ordered list of tasks (a dataset file or a shipped set).

    ``sample(rng)`` draws uniformly with the env's generator, so a seeded ``reset`` is reproducible.
    """

    def __init__(self, tasks: Iterable[Task], family: str) -> None:
        self.family = family
        self._tasks = list(tasks)
        if not self._tasks:
            raise ValueError(f"task source {family!r} has no tasks")
        self._by_id: dict[str, Task] = {}
        for task in self._tasks:
            if task.id in self._by_id:
                raise ValueError(f"task source {family!r} has two tasks with id {task.id!r}")
            self._by_id[task.id] = task

    def sample(self, rng: np.random.Generator) -> Task:
        return self._tasks[int(rng.integers(len(self._tasks)))]

    def get(self, task_id: str) -> Task:
        try:
            return self._by_id[task_id]
        except KeyError:
            close = difflib.get_close_matches(task_id, list(self._by_id), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"no task {task_id!r} in {self.family!r} ({len(self)} tasks){hint}") from None

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.family!r}, {len(self)} tasks)"


class LazyTaskList(TaskList):
    """A :class:`TaskList` whose tasks are built when first asked for (by id, by a draw, or by iterating), from
    ``build(task_id)``: an env over a shipped set costs nothing at ``gym.make`` for the tasks it never plays.
    Draws and order are those of the list of ``ids``, as a :class:`TaskList` of the built tasks would give."""

    def __init__(self, ids: Iterable[str], build: Callable[[str], Task], family: str) -> None:
        self.family = family
        self._ids = list(ids)
        if not self._ids:
            raise ValueError(f"task source {family!r} has no tasks")
        if len(set(self._ids)) != len(self._ids):
            raise ValueError(f"task source {family!r} has two tasks with the same id")
        self._known = frozenset(self._ids)
        self._build = build
        self._built: dict[str, Task] = {}

    def _task(self, task_id: str) -> Task:
        task = self._built.get(task_id)
        if task is None:  # two threads may both build it: the same task, one kept
            task = self._built.setdefault(task_id, self._build(task_id))
        return task

    def sample(self, rng: np.random.Generator) -> Task:
        return self._task(self._ids[int(rng.integers(len(self._ids)))])

    def get(self, task_id: str) -> Task:
        if task_id not in self._known:
            close = difflib.get_close_matches(task_id, self._ids, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"no task {task_id!r} in {self.family!r} ({len(self)} tasks){hint}")
        return self._task(task_id)

    def __iter__(self) -> Iterator[Task]:
        return (self._task(task_id) for task_id in self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def read_jsonl(path: str | Path, to_task: Callable[[Mapping[str, Any], int], Task]) -> list[Task]:
    """Read a JSONL file into tasks with ``to_task(record, line_number)``.

    A bad line raises ``ValueError`` naming the file and line, and what was wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"task file {str(path)!r} does not exist")
    tasks = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError(f"expected a JSON object, got {type(record).__name__}")
                tasks.append(to_task(record, number))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    if not tasks:
        raise ValueError(f"task file {str(path)!r} holds no tasks")
    return tasks
