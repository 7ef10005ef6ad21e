"""Evaluation suites: which envs, which tasks, how many attempts, which seeds (YAML, checked by pydantic).

A suite file::

    name: code                      # with version, names the results a leaderboard may rank together
    version: 1
    description: HumanEval, one reply per episode.
    seed: 0                         # episode seeds derive from it (see episode_seed)
    attempts: 5                     # episodes per task: pass@k needs k <= attempts
    k: [1, 5]
    sampling: {temperature: 0.8, top_p: 0.95, max_new_tokens: 512}
    task_sets:                      # each is one family of the per-family breakdown
      - name: humaneval
        env: selfgym/Code-v0
        env_kwargs: {max_steps: 1}
        # tasks: the env's own source (default), or one of
        # file: tasks.jsonl          (a JSONL/YAML task file for that env; relative to the suite file)
        # reasoning_gym: {name: gcd, level: 1, seed: 3, size: 20}
        ids: ["HumanEval/1*"]       # optional: keep tasks whose id matches one of these globs
        limit: 20                   # optional: the first N tasks (after ids)

Shipped suites (``selfgym/eval/suites/*.yaml``) load by name: ``load_suite("code")``.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from ..envs.task import Task, TaskSource
from ..yaml_config import load_yaml_model

SHIPPED_SUITES_PACKAGE = "selfgym.eval"
SHIPPED_SUITES_DIR = "suites"


class SuiteError(ValueError):
    """A suite that cannot be run: the file, line and key at fault, and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingSpec(_Strict):
    """How the agent samples replies; fixed by the suite so that results are comparable."""

    max_new_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)


class ReasoningGymSpec(_Strict):
    """A fixed reasoning-gym configuration (see :class:`~selfgym.envs.math.generators.ReasoningGymSource`)."""

    name: str
    level: int | dict[str, int] = 0
    seed: int = 0
    size: int = Field(default=20, ge=1, le=100_000)
    config: dict[str, Any] = Field(default_factory=dict)


class TaskSetSpec(_Strict):
    """One env and the tasks to play in it; its ``name`` is its family in the per-family breakdown."""

    name: str = Field(min_length=1)
    env: str = Field(min_length=1, description="a registered Gymnasium id, e.g. selfgym/Code-v0")
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    file: str | None = Field(default=None, description="a task file for the env (JSONL; YAML for Shell-v0)")
    reasoning_gym: ReasoningGymSpec | None = None
    ids: list[str] = Field(default_factory=list, description="globs over task ids; empty keeps every task")
    limit: int | None = Field(default=None, ge=1)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "#" in value or value != value.strip():
            raise ValueError("a task set name may not contain '#' or surrounding spaces")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> TaskSetSpec:
        if self.file is not None and self.reasoning_gym is not None:
            raise ValueError("give either file or reasoning_gym, not both")
        return self


class Suite(_Strict):
    """An evaluation suite: task sets x attempts, with the seed and sampling every run of it uses."""

    name: str = Field(min_length=1)
    version: int | str
    description: str = ""
    seed: int = 0
    attempts: int = Field(default=1, ge=1, le=1000, description="episodes per task")
    k: list[int] = Field(default_factory=lambda: [1], min_length=1, description="report pass@k for these k")
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    system_prompt: str | None = Field(default=None, description="default: the rollout's standard one")
    max_turns: int | None = Field(default=None, ge=1, description="cap on actions per episode (or the env's)")
    task_sets: list[TaskSetSpec] = Field(min_length=1)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        too_big = [k for k in self.k if not 1 <= k <= self.attempts]
        if too_big:
            raise ValueError(f"every k must be between 1 and attempts={self.attempts}; got {too_big}")
        names = [task_set.name for task_set in self.task_sets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"task set names must be unique; repeated: {duplicates}")
        return self

    @property
    def base_dir(self) -> Path:
        """The folder relative ``file:`` paths are read from (the suite file's folder)."""
        return self._base_dir

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class Episode:
    """One episode of a suite: a task of a task set, its attempt number and seed (``key`` names it)."""

    task_set: str
    env_id: str
    env_kwargs: Mapping[str, Any]
    task: Task
    attempt: int
    seed: int
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", episode_key(self.task_set, self.task.id, self.attempt))

    def to_dict(self) -> dict[str, Any]:
        return {"task_set": self.task_set, "env_id": self.env_id, "env_kwargs": dict(self.env_kwargs),
                "task": self.task.to_dict(), "attempt": self.attempt, "seed": self.seed}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Episode:
        return cls(raw["task_set"], raw["env_id"], dict(raw["env_kwargs"]), Task.from_dict(raw["task"]),
                   int(raw["attempt"]), int(raw["seed"]))


@dataclass(frozen=True)
class ExpandedSuite:
    """A suite with its tasks loaded: every episode in canonical order, and a fingerprint of all of it."""

    suite: Suite
    episodes: list[Episode]
    fingerprint: str

    @property
    def tasks_per_set(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for episode in self.episodes:
            if episode.attempt == 0:
                counts[episode.task_set] = counts.get(episode.task_set, 0) + 1
        return counts


def episode_key(task_set: str, task_id: str, attempt: int) -> str:
    return f"{task_set}/{task_id}#{attempt}"


def episode_seed(suite_seed: int, task_set: str, task_id: str, attempt: int) -> int:
    """The seed of one episode: a function of the suite seed, task set, task id and attempt only, so it does
    not depend on which worker plays the episode, in what order, or which tasks a ``limit`` kept."""
    entropy = [suite_seed & 0xFFFFFFFF, zlib.crc32(task_set.encode()), zlib.crc32(task_id.encode()), attempt]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


# --- loading ------------------------------------------------------------------------------------------------

def shipped_suites() -> list[str]:
    """Names of the suites that ship with selfgym."""
    folder = resources.files(SHIPPED_SUITES_PACKAGE).joinpath(SHIPPED_SUITES_DIR)
    return sorted(f.name.removesuffix(".yaml") for f in folder.iterdir() if f.name.endswith(".yaml"))


def suite_path(name_or_path: str | Path) -> Path:
    """The file of a suite given by path, or by the name of a shipped suite (``"code"``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    plain_name = isinstance(name_or_path, str) and "/" not in name_or_path
    if plain_name and not name_or_path.endswith((".yaml", ".yml")):
        shipped = resources.files(SHIPPED_SUITES_PACKAGE).joinpath(SHIPPED_SUITES_DIR, f"{name_or_path}.yaml")
        if shipped.is_file():
            return Path(str(shipped))
    close = difflib.get_close_matches(str(name_or_path), shipped_suites(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; shipped suites: {', '.join(shipped_suites())}"
    raise SuiteError(f"{name_or_path}: no such suite file{hint}")


def load_suite(name_or_path: str | Path) -> Suite:
    """Read and validate a suite; every problem is a :class:`SuiteError` naming file, line and key."""
    path = suite_path(name_or_path)
    suite = load_yaml_model(path, Suite, SuiteError, "name:, version:, task_sets:, ...")
    suite._base_dir = path.resolve().parent
    return suite


# --- expansion ----------------------------------------------------------------------------------------------

def expand_suite(suite: Suite) -> ExpandedSuite:
    """Load every task set's tasks and list the suite's episodes in canonical order (set, task, attempt).

    Each task set's env is built once here (no sandbox is started) to check its id and keyword arguments and,
    when the set names no ``file``/``reasoning_gym``, to read the env's own task source.
    """
    import gymnasium as gym

    import selfgym  # noqa: F401 - registers the ids

    episodes: list[Episode] = []
    digest = hashlib.sha256(json.dumps(suite.model_dump(exclude={"description"}), sort_keys=True).encode())
    for index, task_set in enumerate(suite.task_sets):
        where = f"{suite.label}: task_sets[{index}] ({task_set.name})"
        if task_set.env not in gym.registry:
            known = [env_id for env_id in gym.registry if env_id.startswith("selfgym/")]
            close = difflib.get_close_matches(task_set.env, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; selfgym ids: {', '.join(known)}"
            raise SuiteError(f"{where}: env {task_set.env!r} is not registered{hint}")
        tasks = _select(_load_tasks(suite, task_set, where), task_set, where)
        for task in tasks:
            digest.update(task_set.name.encode() + b"\0" + task.to_json().encode() + b"\0")
            for attempt in range(suite.attempts):
                seed = episode_seed(suite.seed, task_set.name, task.id, attempt)
                episodes.append(Episode(task_set.name, task_set.env, dict(task_set.env_kwargs), task, attempt,
                                        seed))
    return ExpandedSuite(suite, episodes, digest.hexdigest()[:16])


def _load_tasks(suite: Suite, task_set: TaskSetSpec, where: str) -> list[Task]:
    # the env is built even when the tasks come from elsewhere: it checks env_kwargs now rather than in a
    # worker, and its imports (reasoning-gym registers its generators as it is imported) happen in this thread
    # before worker threads build envs concurrently
    own_source = _env_source(task_set, where)
    try:
        if task_set.reasoning_gym is not None:
            from ..envs.math.generators import ReasoningGymSource

            spec = task_set.reasoning_gym
            source = ReasoningGymSource(spec.name, spec.level, seed=spec.seed, size=spec.size, **spec.config)
            return list(source)
        if task_set.file is not None:
            path = Path(task_set.file).expanduser()
            read = _task_file_reader(task_set.env, where)
            return list(read(path if path.is_absolute() else suite.base_dir / path))
        return list(own_source)
    except (ValueError, KeyError, TypeError, FileNotFoundError) as exc:
        raise SuiteError(f"{where}: {exc}") from None


def _env_source(task_set: TaskSetSpec, where: str) -> TaskSource:
    import gymnasium as gym

    try:
        env = gym.make(task_set.env, **task_set.env_kwargs)
    except TypeError as exc:
        raise SuiteError(f"{where}: env_kwargs do not fit {task_set.env}: {exc}") from None
    try:
        return env.unwrapped.source
    finally:
        env.close()


def _task_file_reader(env_id: str, where: str):
    """How a task file is read for ``env_id``: code and math JSONL (their formats detected per record), shell
    YAML task files."""
    if env_id == "selfgym/Code-v0":
        from ..envs.code.sources import read_code_jsonl
        return read_code_jsonl
    if env_id == "selfgym/Math-v0":
        from ..envs.math.sources import load_math_jsonl
        return load_math_jsonl
    if env_id == "selfgym/Shell-v0":
        from ..envs.shell import load_task_file
        return load_task_file
    raise SuiteError(f"{where}: task files are read for Code-v0, Math-v0 and Shell-v0, not {env_id}; "
                     "pass the env's own option in env_kwargs instead")


def _select(tasks: list[Task], task_set: TaskSetSpec, where: str) -> list[Task]:
    if task_set.ids:
        unmatched = [glob for glob in task_set.ids if not any(fnmatch.fnmatchcase(t.id, glob) for t in tasks)]
        if unmatched:
            close = difflib.get_close_matches(unmatched[0], [t.id for t in tasks], n=3)
            hint = f"; close ids: {', '.join(close)}" if close else ""
            raise SuiteError(f"{where}: ids {unmatched} match no task{hint}")
        tasks = [t for t in tasks if any(fnmatch.fnmatchcase(t.id, glob) for glob in task_set.ids)]
    if task_set.limit is not None:
        tasks = tasks[: task_set.limit]
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise SuiteError(f"{where}: two tasks have the id {task.id!r}")
        seen.add(task.id)
    if not tasks:
        raise SuiteError(f"{where}: no tasks")
    return tasks
