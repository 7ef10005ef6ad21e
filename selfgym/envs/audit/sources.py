"""Where ``selfgym audit`` gets the tasks it attacks, and :func:`audit_source`: load, filter, audit.

A source is one of:

* nothing: the env's own tasks (``selfgym/Shell-v0``: the 124 shipped tasks; ``selfgym/Web-v0``: the sites' tasks;
  ``selfgym/Code-v0``: HumanEval; ``selfgym/Math-v0``: its default reasoning-gym mix);
* ``reasoning-gym`` or ``reasoning-gym:NAME[,NAME...]`` (Math-v0): reasoning-gym generators, ``size`` tasks each at
  ``level`` (default: :data:`~selfgym.envs.math.sources.DEFAULT_GENERATORS`);
* a path: a file of :class:`~selfgym.envs.Task` objects (JSONL, or a JSON/YAML list, each
  ``{id, family, prompt, difficulty, data}``: what ``selfgym env-server --allow-custom-tasks`` accepts in ``reset``
  and what a self-evolving curriculum's ``save_pool`` writes), else a task file in the env's own format (its
  ``read_task_file``: Shell-v0's YAML task files and Harbor / terminal-bench task directories, Web-v0's YAML,
  Math-v0's and Code-v0's JSONL: what an experiment's ``env.kwargs.tasks`` or a suite's ``file:`` names).
"""

from __future__ import annotations

import fnmatch
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

from ..pools import env_class, pool_for, sandbox_spec
from ..task import Task
from .base import AuditReport, Battery, TaskAudit, audit_tasks, default_batteries
from .report import journal as write_journal
from .report import read_journal

REASONING_GYM = "reasoning-gym"
SHELL = "selfgym/Shell-v0"
TASK_FIELDS = {"id", "family", "prompt", "difficulty", "data"}


class AuditSourceError(ValueError):
    """A source, filter or env that cannot be audited; the message says what was wrong and what to do."""


def resolve_env(env: str, source: str | Path | None) -> tuple[str, str | Path | None]:
    """(env id, source): a path given instead of an env id is a source of Shell-v0 (its YAML task files, Harbor and
    terminal-bench directories)."""
    if env in gym.registry:
        return env, source
    if Path(env).exists():
        if source is not None:
            raise AuditSourceError(f"{env!r} is a path, not an env id; give either an env id and --source, or a "
                                   "path alone (a Shell-v0 task file or directory)")
        return SHELL, env
    known = ", ".join(sorted(name for name in gym.registry if name.startswith("selfgym/")))
    raise AuditSourceError(f"{env!r} is neither a registered env id ({known}) nor an existing path")


def load_tasks(env: str, source: str | Path | None = None, *, env_kwargs: Mapping[str, Any] | None = None,
               seed: int = 0, level: int = 0, size: int = 10) -> list[Task]:
    """The tasks of ``source`` for ``env`` (see the module docstring); ``seed``, ``level`` and ``size`` (tasks per
    generator) go to reasoning-gym sources only. :class:`AuditSourceError` when the source cannot be read."""
    try:
        if source is None:
            return list(_own_tasks(env, env_kwargs or {}))
        if str(source) == REASONING_GYM or str(source).startswith(REASONING_GYM + ":"):
            return _reasoning_gym(env, str(source), seed=seed, level=level, size=size)
        path = Path(source).expanduser()
        if not path.exists():
            raise AuditSourceError(f"source {str(source)!r}: no such file or directory (give a task file, a task "
                                   f"directory, or {REASONING_GYM}[:NAME,...])")
        tasks = task_objects(path)
        if tasks is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a folder's unplayable directories: `selfgym tasks check` lists them
                tasks = list(env_class(env).read_task_file(path))
        if not tasks:
            raise AuditSourceError(f"source {str(source)!r} holds no tasks")
        return tasks
    except AuditSourceError:
        raise
    except (ValueError, KeyError, TypeError, OSError, yaml.YAMLError) as exc:
        raise AuditSourceError(f"source {str(source or env)!r} cannot be read: {exc}") from None


def _own_tasks(env: str, env_kwargs: Mapping[str, Any]) -> list[Task]:
    try:
        made = gym.make(env, **env_kwargs)
    except TypeError as exc:
        raise AuditSourceError(f"--env-kwargs do not fit {env}: {exc}") from None
    try:
        return list(made.unwrapped.source)
    finally:
        made.close()


def _reasoning_gym(env: str, source: str, *, seed: int, level: int, size: int) -> list[Task]:
    from ..math.generators import ReasoningGymSource, generator_names
    from ..math.sources import DEFAULT_GENERATORS

    if env != "selfgym/Math-v0":
        raise AuditSourceError(f"--source {REASONING_GYM} is for selfgym/Math-v0, not {env}")
    names = [name.strip() for name in source.partition(":")[2].split(",") if name.strip()] or list(DEFAULT_GENERATORS)
    unknown = sorted(set(names) - set(generator_names()))
    if unknown:
        raise AuditSourceError(f"unknown reasoning-gym generator(s) {', '.join(unknown)}; see "
                               "selfgym.envs.math.generator_names()")
    tasks: list[Task] = []
    for name in names:
        tasks += list(ReasoningGymSource(name, level, seed=seed, size=size))
    return tasks


def task_objects(path: Path) -> list[Task] | None:
    """The tasks of a file of :class:`Task` objects (JSONL, or a JSON or YAML list), or None when ``path`` is not
    one (a directory, or records of another format: the env's own task files)."""
    if not path.is_file() or path.suffix not in (".jsonl", ".json", ".yaml", ".yml"):
        return None
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        records: Any = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise AuditSourceError(f"{path}:{number}: not JSON: {exc}") from None
    else:
        records = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(records, list) or not records or not all(_is_task_object(r) for r in records):
        return None
    tasks = []
    for number, record in enumerate(records, start=1):
        try:
            tasks.append(Task.from_dict(record))
        except (ValueError, TypeError) as exc:
            raise AuditSourceError(f"{path}: task {number}: {exc}") from None
    return tasks


def _is_task_object(record: Any) -> bool:
    return isinstance(record, Mapping) and {"id", "prompt"} <= set(record) <= TASK_FIELDS and "data" in record


def select(tasks: Sequence[Task], globs: Sequence[str] = (), limit: int | None = None) -> list[Task]:
    """The tasks whose id matches one of ``globs`` (all when none), at most the first ``limit``;
    :class:`AuditSourceError` when a glob matches nothing."""
    chosen = list(tasks)
    if globs:
        unmatched = [glob for glob in globs if not any(fnmatch.fnmatchcase(task.id, glob) for task in chosen)]
        if unmatched:
            sample = ", ".join(task.id for task in chosen[:3])
            raise AuditSourceError(f"--tasks {unmatched[0]!r} matches no task id (ids look like: {sample})")
        chosen = [task for task in chosen if any(fnmatch.fnmatchcase(task.id, glob) for glob in globs)]
    ids = [task.id for task in chosen]
    if len(set(ids)) != len(ids):
        twice = next(task_id for task_id in ids if ids.count(task_id) > 1)
        raise AuditSourceError(f"two tasks have the id {twice!r}: an audit names tasks by id")
    return chosen[:limit] if limit is not None else chosen


def audit_source(env: str, source: str | Path | None = None, *, tasks: Sequence[str] = (), limit: int | None = None,
                 workers: int = 1, seed: int = 0, env_kwargs: Mapping[str, Any] | None = None,
                 batteries: Sequence[Battery] | None = None, pool: Any = None, progress: bool = True,
                 level: int = 0, size: int = 10, journal: str | Path | None = None,
                 on_result: Callable[[TaskAudit], None] | None = None) -> AuditReport:
    """Audit the tasks of ``source`` on ``env``: what ``selfgym audit`` runs.

    Args:
        env: a registered env id, or a path (a Shell-v0 task file or Harbor / terminal-bench directory).
        source: see the module docstring (None: the env's own tasks).
        tasks: globs over task ids; only the matching tasks are audited.
        limit: at most this many tasks (after ``tasks``).
        workers: tasks audited at once (each worker has an env; the sandboxes come from one pool of ``workers``).
        seed: every episode's reset seed (and the reasoning-gym generators' seed).
        env_kwargs: keyword arguments of every env made (``gym.make(env, **env_kwargs)``).
        batteries: the batteries to play (default: every one present, see :func:`default_batteries`).
        pool: a :class:`~selfgym.sandbox.SandboxPool` to take sandboxes from (default: one made here and closed).
        progress: a progress bar on stderr.
        level, size: reasoning-gym sources: the level and how many tasks per generator.
        journal: a JSONL file each task's audit is appended to as it is done; the tasks it already holds, audited
            as they are now (same task, seed and batteries), are taken from it, not audited again: an interrupted
            audit resumes.

    Raises:
        AuditSourceError: the env, source or filter cannot be audited (also when no battery knows the env).
        SandboxError: Docker cannot be reached or the sandbox image is not built (before any task is played).
    """
    if workers < 1:
        raise AuditSourceError(f"--workers must be at least 1, got {workers}")
    env, source = resolve_env(env, source)
    env_kwargs = dict(env_kwargs or {})
    chosen = select(load_tasks(env, source, env_kwargs=env_kwargs, seed=seed, level=level, size=size), tasks, limit)
    batteries = list(batteries) if batteries is not None else default_batteries()
    _check_batteries(env, env_kwargs, chosen, batteries)
    names = [battery.name for battery in batteries]
    try:
        done = read_journal(journal, chosen, seed, names) if journal is not None else {}
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditSourceError(f"the journal {journal} cannot be read ({exc}); delete it to audit from "
                               "scratch") from None
    todo = [task for task in chosen if task.id not in done]
    by_id = {task.id: task for task in todo}

    def finished(audit: TaskAudit) -> None:
        if journal is not None:
            write_journal(journal, audit, by_id[audit.task_id], seed, names)
        if on_result is not None:
            on_result(audit)

    if not todo:
        report = AuditReport(env, [])
    else:
        report = _audit(env, env_kwargs, todo, batteries, workers=workers, seed=seed, pool=pool, progress=progress,
                        on_result=finished)
    audits = {audit.task_id: audit for audit in report.tasks} | done
    report.tasks = [audits[task.id] for task in chosen if task.id in audits]
    report.env = env if source is None else f"{env} ({source})"
    return report


def _audit(env: str, env_kwargs: dict[str, Any], tasks: list[Task], batteries: list[Battery], *, workers: int,
           seed: int, pool: Any, progress: bool, on_result: Callable[[TaskAudit], None]) -> AuditReport:
    """:func:`audit_tasks` on envs of ``env`` whose sandboxes come from ``pool`` (or one made here, first)."""
    own_pool = None
    if pool is None and sandbox_spec(env) is not None and "pool" not in env_kwargs:
        # made before any task is played: no Docker engine or no image is one clear error, not a finding per probe
        pool = own_pool = pool_for(env, workers, env_kwargs, warm=0)
    if pool is not None:
        env_kwargs["pool"] = pool
    try:
        return audit_tasks(lambda: gym.make(env, **env_kwargs), tasks, batteries=batteries, workers=workers,
                           progress=progress, seed=seed, on_result=on_result)
    finally:
        if own_pool is not None:
            own_pool.close()


def _check_batteries(env: str, env_kwargs: Mapping[str, Any], tasks: Sequence[Task],
                     batteries: Sequence[Battery]) -> None:
    """:class:`AuditSourceError` naming the first task no battery knows how to attack (before any is played)."""
    made = gym.make(env, **env_kwargs)
    try:
        unwrapped = made.unwrapped
        for task in tasks:
            if not any(battery.applies(unwrapped, task) for battery in batteries):
                names = ", ".join(battery.name for battery in batteries) or "none"
                raise AuditSourceError(f"no audit battery can attack task {task.id!r} on {env} (batteries present: "
                                       f"{names}): selfgym audits Shell-v0, Math-v0, Code-v0 and Web-v0 tasks")
    finally:
        made.close()
