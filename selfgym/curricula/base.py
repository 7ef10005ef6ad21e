"""What every curriculum shares: the ``Curriculum`` interface, task families with levels, and arm statistics."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..envs.task import Task, TaskSource


@runtime_checkable
class TaskFamily(Protocol):
    """A task generator with a difficulty knob: ``make(level, rng)`` returns a task at ``level`` in
    ``0..levels-1`` (0 = easiest). Procedural families (reasoning-gym generators, simulated tasks) implement it;
    a fixed task list is a family of one level."""

    name: str
    levels: int

    def make(self, level: int, rng: np.random.Generator) -> Task: ...


class FixedFamily:
    """A :class:`TaskFamily` over a fixed list of tasks, levelled by ``Task.difficulty`` (distinct values, sorted)."""

    def __init__(self, name: str, tasks: Iterable[Task]) -> None:
        self.name = name
        tasks = list(tasks)
        if not tasks:
            raise ValueError(f"family {name!r} has no tasks")
        difficulties = sorted({task.difficulty for task in tasks})
        self._by_level = [[t for t in tasks if t.difficulty == d] for d in difficulties]
        self.levels = len(self._by_level)

    def make(self, level: int, rng: np.random.Generator) -> Task:
        pool = self._by_level[level]
        return pool[int(rng.integers(len(pool)))]


def outcome_value(outcome: Any) -> float:
    """A success score in [0, 1] from what an episode returned: a number, a bool, or a mapping with ``reward``
    or ``success``."""
    if isinstance(outcome, dict):
        outcome = outcome.get("success", outcome.get("reward"))
    try:
        value = float(outcome)
    except (TypeError, ValueError):
        raise TypeError(f"a curriculum outcome must be a number, a bool or a dict with 'reward'/'success', got "
                        f"{outcome!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a curriculum outcome must lie in [0, 1] (success or reward), got {value}")
    return value


@dataclass(frozen=True)
class Arm:
    """One choice a curriculum makes: a family at a level."""

    family: str
    level: int

    @property
    def key(self) -> str:
        return f"{self.family}@{self.level}"


def task_arm(task: Task) -> Arm:
    """The arm a task came from (``data["level"]`` when the family set it, else its rounded difficulty)."""
    return Arm(task.family, int(task.data.get("level", round(task.difficulty))))


@runtime_checkable
class TaskChooser(Protocol):
    """What picks a learner's next task and hears how each went: every :class:`Curriculum`, or
    :class:`SampledTasks` over a fixed source. Trainers (``GRPOTrainer``) take any of these."""

    def next_task(self) -> Task: ...

    def update(self, task: Task, outcome: Any) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class SampledTasks:
    """Tasks drawn from a source with a generator the owner keeps (and saves); outcomes change nothing."""

    def __init__(self, source: TaskSource, rng: np.random.Generator) -> None:
        self.source, self.rng = source, rng

    def next_task(self) -> Task:
        return self.source.sample(self.rng)

    def update(self, task: Task, outcome: Any) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Excluding:
    """A :class:`TaskChooser` that never hands out the tasks whose ids are in ``excluded`` (an experiment's
    held-out tasks): it draws again, up to ``max_draws`` times, then says the task space is too small."""

    def __init__(self, chooser: TaskChooser, excluded: Iterable[str], *, max_draws: int = 1000) -> None:
        self.chooser, self.excluded, self.max_draws = chooser, frozenset(excluded), max_draws

    def next_task(self) -> Task:
        for _ in range(self.max_draws):
            task = self.chooser.next_task()
            if task.id not in self.excluded:
                return task
        raise ValueError(f"{self.max_draws} draws in a row were held-out tasks: the task families are too small "
                         f"for {len(self.excluded)} held-out tasks; hold out fewer (eval.tasks)")

    def update(self, task: Task, outcome: Any) -> None:
        self.chooser.update(task, outcome)

    def state_dict(self) -> dict[str, Any]:
        return self.chooser.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.chooser.load_state_dict(state)


class Curriculum(abc.ABC):
    """Decides which task an agent sees next, from the outcomes it has seen.

    ``next_task()`` draws with the curriculum's own seeded generator; ``update(task, outcome)`` reports how the
    episode went (success or reward in [0, 1]); ``state_dict()``/``load_state_dict()`` round-trip everything,
    generator state included, through JSON, so a resumed run draws exactly the tasks an uninterrupted one would.
    """

    def __init__(self, families: Sequence[TaskFamily], *, seed: int = 0) -> None:
        if not families:
            raise ValueError("a curriculum needs at least one task family")
        names = [family.name for family in families]
        if len(set(names)) != len(names):
            raise ValueError(f"task family names must be unique, got {names}")
        self.families = {family.name: family for family in families}
        self.arms = [Arm(f.name, level) for f in families for level in range(f.levels)]
        self.rng = np.random.default_rng(seed)
        self.episodes = 0

    @abc.abstractmethod
    def next_task(self) -> Task:
        """The task to play next."""

    def update(self, task: Task, outcome: Any) -> None:
        """Record the outcome of an episode on ``task``."""
        self.episodes += 1
        self._update(task, outcome_value(outcome))

    def _update(self, task: Task, success: float) -> None:  # noqa: B027 - optional hook
        pass

    def make(self, arm: Arm) -> Task:
        return self.families[arm.family].make(arm.level, self.rng)

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "rng": self.rng.bit_generator.state, **self._state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes = state["episodes"]
        self.rng.bit_generator.state = state["rng"]
        self._load(state)

    def _state(self) -> dict[str, Any]:
        return {}

    def _load(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        pass

    def weighted_choice(self, weights: np.ndarray) -> int:
        """An index drawn in proportion to ``weights`` (uniform when they are all zero)."""
        weights = np.asarray(weights, dtype=float)
        total = weights.sum()
        probs = weights / total if total > 0 else np.full(len(weights), 1 / len(weights))
        return int(self.rng.choice(len(weights), p=probs))
