"""The unit of work every environment, curriculum and trainer passes around."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Task:
    """One task: what the agent is asked, and what the verifier needs to judge it.

    Attributes:
        id: unique within its family, e.g. ``"HumanEval/0"`` or ``"basic_arithmetic/seed=3/level=2"``.
        family: the task source or generator name (``"humaneval"``, ``"shell"``, ``"basic_arithmetic"``).
        prompt: the text shown to the agent.
        difficulty: a number curricula can order tasks by (0 = easiest; each family defines its scale).
        data: JSON-serialisable verifier inputs (Math: ``{"answer": "\\\\frac{1}{2}"}``; Code: tests, entry
            point). Read-only.
    """

    id: str
    family: str
    prompt: str
    difficulty: float = 0
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"Task.id must be a non-empty string, got {self.id!r}")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def __hash__(self) -> int:
        return hash((self.family, self.id))

    def __reduce__(self):  # pickle/deepcopy (vector envs, multiprocessing): a mappingproxy cannot be pickled
        return (type(self), (self.id, self.family, self.prompt, self.difficulty, dict(self.data)))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "family": self.family, "prompt": self.prompt, "difficulty": self.difficulty,
                "data": copy.deepcopy(dict(self.data))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Task:
        unknown = set(raw) - {"id", "family", "prompt", "difficulty", "data"}
        if unknown:
            raise ValueError(f"Unknown Task field(s) {sorted(unknown)}; expected id, family, prompt, difficulty, data")
        return cls(**raw)

    @classmethod
    def from_json(cls, text: str) -> Task:
        return cls.from_dict(json.loads(text))


@runtime_checkable
class TaskSource(Protocol):
    """Where an environment gets tasks: a dataset file, a shipped dataset, or a seeded generator."""

    family: str

    def sample(self, rng: np.random.Generator) -> Task:
        """One task drawn with ``rng`` (the env's seeded generator), reproducibly."""

    def get(self, task_id: str) -> Task:
        """The task with this id; ``KeyError`` naming close ids when there is none."""

    def __iter__(self) -> Iterator[Task]:
        """Every task, in a fixed order (generators: a fixed, documented finite set)."""
