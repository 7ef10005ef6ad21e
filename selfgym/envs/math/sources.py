"""Math task sources: GSM8K- and MATH-format JSONL files, mixes of sources, and the default mix."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..sources import TaskList, read_jsonl
from ..task import Task, TaskSource
from .answers import last_boxed

# Cheap, exactly-checkable arithmetic and algebra at the easiest level: what gym.make("selfgym/Math-v0") serves.
DEFAULT_GENERATORS = ("basic_arithmetic", "chain_sum", "products", "simple_equations", "gcd", "lcm")

_GSM8K_ANSWER = re.compile(r"####\s*(.+?)\s*$", re.S)
_MATH_LEVEL = re.compile(r"(\d+)")


def gsm8k_task(record: Mapping[str, Any], line: int, *, family: str = "gsm8k", stem: str = "gsm8k") -> Task:
    """A task from a GSM8K record: ``{"question": ..., "answer": "reasoning ... #### 72"}``."""
    found = _GSM8K_ANSWER.search(str(record["answer"]))
    if found is None:
        raise ValueError("the 'answer' field has no '#### <final answer>' line (GSM8K format)")
    gold = found.group(1).replace(",", "")
    return Task(id=str(record.get("id", f"{stem}/{line}")), family=family, prompt=str(record["question"]),
                data={"answer": gold, "solution": str(record["answer"])})


def math_task(record: Mapping[str, Any], line: int, *, family: str = "math", stem: str = "math") -> Task:
    """A task from a MATH record: ``{"problem", "solution" with \\boxed{answer}, "level": "Level 3", "type"}``.

    An ``answer`` field, when present (MATH-500), is the gold answer; otherwise the last ``\\boxed{}`` of the
    solution is. ``difficulty`` is the level's number (0 when there is none).
    """
    gold = record.get("answer")
    if gold is None:
        gold = last_boxed(str(record["solution"]))
        if gold is None:
            raise ValueError("the solution has no \\boxed{...} answer and there is no 'answer' field (MATH format)")
    level = _MATH_LEVEL.search(str(record.get("level", "")))
    return Task(id=str(record.get("unique_id", record.get("id", f"{stem}/{line}"))), family=family,
                prompt=str(record["problem"]), difficulty=int(level.group(1)) if level else 0,
                data={"answer": str(gold).strip(), "solution": str(record.get("solution", "")),
                      "subject": str(record.get("type", record.get("subject", "")))})


def load_math_jsonl(path: str | Path, *, format: Literal["auto", "gsm8k", "math"] = "auto",
                    family: str | None = None) -> TaskList:
    """Tasks from a JSONL file in GSM8K format (``question``/``answer`` with ``####``) or MATH format
    (``problem``/``solution`` with ``\\boxed{}``). ``format="auto"`` tells them apart record by record.
    ``family`` defaults to the format's name. A bad line raises ``ValueError`` naming file and line.
    """
    if format not in ("auto", "gsm8k", "math"):
        raise ValueError(f"format must be 'auto', 'gsm8k' or 'math', got {format!r}")
    stem = Path(path).stem

    def to_task(record: Mapping[str, Any], line: int) -> Task:
        kind = format if format != "auto" else ("math" if "problem" in record else "gsm8k")
        required = ({"problem"} | ({"solution"} if "answer" not in record else set())) if kind == "math" \
            else {"question", "answer"}
        missing = required - set(record)
        if missing:
            raise ValueError(f"missing field(s) {sorted(missing)} for the {kind} format")
        make = math_task if kind == "math" else gsm8k_task
        return make(record, line, family=family or kind, stem=stem)

    tasks = read_jsonl(path, to_task)
    return TaskList(tasks, family or stem)


class TaskMix:
    """A :class:`~selfgym.envs.TaskSource` that draws from several sources (uniformly, or by ``weights``)."""

    def __init__(self, sources: Sequence[TaskSource], weights: Sequence[float] | None = None,
                 family: str = "mix") -> None:
        if not sources:
            raise ValueError("TaskMix needs at least one source")
        if weights is not None and (len(weights) != len(sources) or min(weights) < 0 or sum(weights) <= 0):
            raise ValueError(f"weights must be {len(sources)} non-negative numbers with a positive sum, got {weights}")
        self.sources = list(sources)
        self.family = family
        self._p = None if weights is None else np.asarray(weights, dtype=float) / float(sum(weights))

    def sample(self, rng: np.random.Generator) -> Task:
        return self.sources[int(rng.choice(len(self.sources), p=self._p))].sample(rng)

    def get(self, task_id: str) -> Task:
        for source in self.sources:
            try:
                return source.get(task_id)
            except KeyError:
                continue
        raise KeyError(f"no task {task_id!r} in any of {[source.family for source in self.sources]}")

    def __iter__(self) -> Iterator[Task]:
        for source in self.sources:
            yield from source

    def __len__(self) -> int:
        return sum(len(source) for source in self.sources)

    def __repr__(self) -> str:
        return f"TaskMix({self.sources!r})"


def default_source(seed: int = 0, size: int = 1000) -> TaskMix:
    """The default mix: :data:`DEFAULT_GENERATORS` at level 0."""
    from .generators import ReasoningGymSource
    return TaskMix([ReasoningGymSource(name, 0, seed=seed, size=size) for name in DEFAULT_GENERATORS],
                   family="math-default")
