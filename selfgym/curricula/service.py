"""A curriculum as a service: one curriculum shared by every client of an env server (and by several servers, and
by ``selfgym run``), its outcomes kept in a :class:`~.store.CurriculumStore`.

The store's outcome log is the truth; each process's :class:`Curriculum` is a fold over it. Before every choice
the service reads the outcomes other processes (and it) recorded since its last look and feeds them to its
curriculum in log order, so every server of a run decides from the same shared outcomes; a server killed and
restarted replays the log and has lost nothing (an outcome is recorded, once per episode key, before the reply
that ends its episode is sent). A new run may start from earlier runs' outcomes of the same model (``inherit``).

The self-evolving curriculum writes tasks every phase; here one server per phase does (the first to claim it in
the store), and its tasks go to the store (with the proposal's audit verdict, when it has one), from where every
server of the run adopts them. Replaying the log evolves nothing: written tasks come from the store.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from pydantic import Field

from ..envs.task import Task
from ..yaml_config import StrictModel, load_yaml_model
from .base import Curriculum, FixedFamily, TaskFamily
from .outcome_model import OutcomeModel
from .self_evolving import SelfEvolvingCurriculum, fingerprint, with_default_audit
from .store import CurriculumStore, OutcomeRecord, RunInfo, StoreError, task_key, task_level

log = logging.getLogger(__name__)
RETRY_PAUSES_S = (0.2, 1.0, 3.0, 0.0)  # between tries of an outcome's write
LOOKBACK_IDS = 1000  # outcome ids a reader looks back over: a writer's id can commit after a later one


class CurriculumSpecError(ValueError):
    """A curriculum name or file that does not say a curriculum."""


class ServiceSpec(StrictModel):
    """What ``--curriculum FILE.yaml`` holds: the curriculum's ``name`` and its ``params`` (its keyword
    arguments, e.g. ``phase_length`` of ``self_evolving``)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


def curriculum_spec(text: str) -> ServiceSpec:
    """``NAME`` (one of :data:`~selfgym.curricula.CURRICULA`) or a YAML file's path."""
    from . import CURRICULA

    if text.endswith((".yaml", ".yml")) or os.sep in text:
        if not Path(text).is_file():
            raise CurriculumSpecError(f"no curriculum file {text}")
        spec = load_yaml_model(text, ServiceSpec, CurriculumSpecError, "name:, params:")
    else:
        spec = ServiceSpec(name=text)
    if spec.name not in CURRICULA:
        raise CurriculumSpecError(f"unknown curriculum {spec.name!r}; choose one of {', '.join(CURRICULA)} "
                                  "or give a YAML file (name:, params:)")
    return spec


def families_of(tasks: Iterable[Task]) -> list[TaskFamily]:
    """An env's task source as one :class:`FixedFamily` per task family (levelled by difficulty)."""
    grouped: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        grouped[task.family].append(task)
    return [FixedFamily(name, group) for name, group in sorted(grouped.items())]


def default_server_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class CurriculumService:
    """``choose()`` the next task; ``finished(episode_key, task, reward)`` when an episode ends; ``describe()``
    what the curriculum is doing; ``mount(app)`` its ``/curriculum`` and ``/dashboard`` routes. Thread-safe.

    Args:
        curriculum: made with ``run.seed`` (every server of a run starts from the same pool); its generator is
            then reseeded with the server's name, so servers do not draw in lockstep.
        store, run: where outcomes go (:meth:`CurriculumStore.open_run`).
        known_tasks: tasks a logged outcome may name (the env's source), to replay outcomes with whole tasks.
        model: the model name outcomes are recorded under.
    """

    def __init__(self, curriculum: Curriculum, store: CurriculumStore, run: RunInfo, *,
                 known_tasks: Iterable[Task] = (), model: str | None = None, server: str | None = None,
                 resolve: Callable[[str, str, int], Task | None] | None = None) -> None:
        self.curriculum, self.store, self.run = curriculum, store, run
        self.model = model or run.model
        self.server = server or default_server_name()
        self.curriculum.rng = np.random.default_rng([run.seed, zlib.crc32(self.server.encode())])
        self.outcome_model = OutcomeModel()  # every curriculum's outcomes, for describe(): P(success) per task
        self._known = {task_key(task): task for task in known_tasks}
        self._resolve = resolve
        self._lock = threading.RLock()
        self._seen: set[int] = set()
        self._floor = 0  # outcome ids at or below this one are all folded
        self._written_after = 0
        self._replaying = False
        self.folded = 0
        self.unrecorded = 0  # outcomes the store could not take (after retries)
        if isinstance(curriculum, SelfEvolvingCurriculum):
            self._evolve = curriculum.evolve
            curriculum.evolve = self._evolve_once  # type: ignore[method-assign]
        with self._lock:
            self._replaying = True
            try:
                for record in store.inherited(run):
                    self._fold(record)
                self.sync()
            finally:
                self._replaying = False

    # --- the log -----------------------------------------------------------------------------------------------
    def _task(self, record: OutcomeRecord) -> Task:
        task = self._known.get(record.task_key)
        if task is None and self._resolve is not None:
            try:
                task = self._resolve(record.family, record.task_id, record.level)
            except (KeyError, ValueError):
                task = None
            if task is not None:
                self._known[record.task_key] = task
        if task is None:  # a task nobody here can make (another env's): its outcome still counts
            task = Task(record.task_id, record.family, "", record.difficulty, {"level": record.level})
        return task

    def _fold(self, record: OutcomeRecord) -> None:
        task = self._task(record)
        self.curriculum.update(task, record.success)
        self.outcome_model.observe(task, record.success)
        self.folded += 1

    def sync(self) -> int:
        """Fold the outcomes (and adopt the written tasks) recorded since the last look; returns how many."""
        with self._lock:
            for row_id, task, _ in self.store.written(self.run.id, after=self._written_after):
                self._known[task_key(task)] = task
                if isinstance(self.curriculum, SelfEvolvingCurriculum):
                    self.curriculum._add(task)  # a no-op for a task it has (its fingerprint is seen)
                self._written_after = row_id
            new = [r for r in self.store.outcomes(self.run.id, after=self._floor) if r.id not in self._seen]
            for record in new:
                self._fold(record)
                self._seen.add(record.id)
            if self._seen:
                # ids more than LOOKBACK_IDS below the newest are settled: forget them, look above them
                floor = max(self._seen) - LOOKBACK_IDS
                if floor > self._floor:
                    self._seen = {i for i in self._seen if i > floor}
                    self._floor = floor
            return len(new)

    def _evolve_once(self) -> list[Task]:
        """The self-evolving curriculum's phase end: one server of the run writes (the first to claim the
        phase); replays write nothing (the tasks written then are in the store)."""
        curriculum = self.curriculum
        assert isinstance(curriculum, SelfEvolvingCurriculum)
        phase = curriculum.episodes // curriculum.phase_length
        if self._replaying or not self.store.claim_phase(self.run.id, phase, server=self.server):
            curriculum.phase_failures = []
            return []
        added = self._evolve()
        # only the curriculum's audit gate gives verdicts: what a writer puts in a task's data is no verdict
        audited = {proposal.task.id: proposal.audit["verdict"] for proposal in curriculum.proposals
                   if proposal.audit and proposal.audit.get("verdict")}
        for task in added:
            self.store.add_written(self.run.id, task, fingerprint=fingerprint(task),
                                   audit_verdict=audited.get(task.id))
        return added

    # --- what a server calls -------------------------------------------------------------------------------------
    def choose(self) -> Task:
        """The curriculum's next task, from every outcome recorded so far."""
        with self._lock:
            self.sync()
            task = self.curriculum.next_task()
        self.store.record_draw(self.run.id, task, server=self.server)
        return task

    def finished(self, episode_key: str, task: Task | None, reward: float | None,
                 info: dict[str, Any] | None = None) -> bool:
        """Record a finished episode (its reward as the server's verifier gave it; success is the reward clipped
        to [0, 1]); False when ``episode_key`` was recorded before or there is nothing to record."""
        if task is None or reward is None or not math.isfinite(float(reward)):
            return False
        success = min(1.0, max(0.0, float(reward)))
        for attempt, pause in enumerate(RETRY_PAUSES_S):
            try:
                new = self.store.record_outcome(self.run.id, episode_key, task, success, reward=float(reward),
                                                model=self.model, server=self.server)
                break
            except sa.exc.OperationalError:  # the database is away (a restart, the network): a retry is safe
                if attempt == len(RETRY_PAUSES_S) - 1:
                    # the episode's reply still goes out (the trainer keeps its reward); the curriculum misses it
                    self.unrecorded += 1
                    log.exception("the curriculum store lost the outcome of episode %s", episode_key)
                    return False
                time.sleep(pause)
        if new:
            self.sync()
        return new

    def task_stats(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """For the task API: per task id the curriculum has a record of, its plays, successes, draws and the
        outcome model's P(success)."""
        wanted = set(task_ids)
        stats = {}
        for row in self.store.tasks(self.run.id):
            if row["task_id"] in wanted:
                task = self._known.get(row["key"]) or Task(row["task_id"], row["family"], "", row["difficulty"])
                stats[row["task_id"]] = {"plays": row["plays"], "successes": row["successes"], "draws": row["draws"],
                                         "predicted": round(self.outcome_model.predict(task), 4)}
        return stats

    # --- what it is doing ----------------------------------------------------------------------------------------
    def describe(self, *, max_tasks: int = 200) -> dict[str, Any]:
        """Per family (plays, successes, level where the curriculum has levels, the outcome model's P(success)
        per level, the probability that the next draw is one of its tasks where the curriculum has one) and per task (the ``max_tasks`` most played or drawn: plays, successes, draws, P(success),
        draw probability where the curriculum has one), as JSON."""
        with self._lock:
            self.sync()
            rows = self.store.tasks(self.run.id)
            chances = self._draw_probabilities()
            probability = {task_key(task): round(q, 5) for task, q in chances}
            curriculum = self.curriculum
            families: dict[str, dict[str, Any]] = {}
            for name, family in curriculum.families.items():
                families[name] = {"levels": family.levels, "plays": 0, "successes": 0.0, "draws": 0,
                                  "predicted_by_level": [round(float(p), 4) for p in self.outcome_model.predict_many(
                                      name, np.arange(family.levels, dtype=float))]}
                if hasattr(curriculum, "level") and name in curriculum.level:
                    families[name]["level"] = int(curriculum.level[name])
            for task, q in chances:  # where the next draw goes, per family
                if task.family in families:
                    families[task.family]["draw_probability"] = families[task.family].get("draw_probability", 0) + q
            for entry in families.values():
                if "draw_probability" in entry:
                    entry["draw_probability"] = round(entry["draw_probability"], 5)
            for row in rows:
                entry = families.setdefault(row["family"], {"levels": None, "plays": 0, "successes": 0.0, "draws": 0})
                entry["plays"] += row["plays"]
                entry["successes"] += row["successes"]
                entry["draws"] += row["draws"]
            rows.sort(key=lambda r: (r["plays"] + r["draws"]), reverse=True)
            tasks = []
            for row in rows[:max_tasks]:
                task = self._known.get(row["key"]) or Task(row["task_id"], row["family"], "", row["difficulty"])
                tasks.append({"id": row["task_id"], "family": row["family"], "level": row["level"],
                              "difficulty": row["difficulty"], "origin": row["origin"],
                              "audit_verdict": row["audit_verdict"], "plays": row["plays"],
                              "successes": row["successes"], "draws": row["draws"],
                              "predicted": round(self.outcome_model.predict(task), 4),
                              "draw_probability": probability.get(row["key"])})
            return {"run": self.run.name, "model": self.model, "curriculum": self.run.curriculum,
                    "server": self.server, "episodes": curriculum.episodes, "folded": self.folded,
                    "unrecorded": self.unrecorded,
                    "families": families, "tasks": tasks, "state": _small_state(curriculum.state_dict())}

    def _draw_probabilities(self) -> list[tuple[Task, float]]:
        """(task, probability that the next draw is it) for a curriculum that draws from a pool, else []."""
        curriculum = self.curriculum
        if isinstance(curriculum, SelfEvolvingCurriculum) and curriculum.pool:
            p, slopes = curriculum.success_estimates()
            weights = slopes ** 2 * p * (1 - p) + 1e-12  # as SelfEvolvingCurriculum.next_task weighs them
            probs = (1 - curriculum.explore) * weights / weights.sum() + curriculum.explore / len(weights)
            return [(task, float(q)) for task, q in zip(curriculum.pool, probs, strict=True)]
        return []

    def mount(self, app, dependencies: Sequence[Any] = ()) -> None:
        """Add ``GET /curriculum`` (:meth:`describe`) and ``GET /dashboard`` (HTML) to a FastAPI ``app``."""
        import asyncio

        from fastapi.responses import HTMLResponse

        from .dashboard import render_dashboard

        service = self

        @app.get("/curriculum", dependencies=list(dependencies))
        async def curriculum() -> dict[str, Any]:
            return await asyncio.get_running_loop().run_in_executor(None, service.describe)

        @app.get("/dashboard", dependencies=list(dependencies), response_class=HTMLResponse)
        async def dashboard() -> HTMLResponse:
            page = await asyncio.get_running_loop().run_in_executor(None, render_dashboard, service.store,
                                                                    service.run)
            return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; style-src "
                                               "'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"})


class StoredCurriculum:
    """A :class:`~.base.TaskChooser` for ``selfgym run`` over a :class:`CurriculumService`: it draws the shared
    curriculum's tasks and records each outcome under a key of its own (``PREFIX:N``, ``N`` counting this run's
    outcomes; the prefix and ``N`` are in its state, so a resumed run that plays an episode again writes the same
    key, and it counts once)."""

    def __init__(self, service: CurriculumService) -> None:
        import uuid

        self.service = service
        self.prefix, self.recorded = uuid.uuid4().hex[:12], 0

    def next_task(self) -> Task:
        return self.service.choose()

    def update(self, task: Task, outcome: Any) -> None:
        from .base import outcome_value

        success = outcome_value(outcome)
        self.service.finished(f"run:{self.prefix}:{self.recorded}", task, success)
        self.recorded += 1

    def state_dict(self) -> dict[str, Any]:
        return {"store_run": self.service.run.name, "prefix": self.prefix, "recorded": self.recorded,
                "episodes": self.service.curriculum.episodes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.prefix, self.recorded = state["prefix"], state["recorded"]

    @property
    def level(self) -> dict[str, int]:
        """The levels of a levelled curriculum (what ``selfgym run`` logs); empty for others."""
        return dict(getattr(self.service.curriculum, "level", {}))


def _small_state(state: dict[str, Any]) -> dict[str, Any]:
    """A curriculum's state without what is large or private (its generator, task pool, outcome lists)."""
    return {k: v for k, v in state.items()
            if k not in ("rng", "pool", "outcome_model", "phase_failures", "successes", "trials", "buffer", "recent")}


def open_service(tasks: Sequence[Task], spec: str, database: str, *, run: str, model: str = "unknown",
                 inherit: bool = True, seed: int = 0, server: str | None = None, env_id: str | None = None,
                 env_kwargs: Mapping[str, Any] | None = None) -> CurriculumService:
    """A :class:`CurriculumService` over an env's ``tasks`` (grouped into families), with the curriculum
    ``spec`` (a name or YAML file), its outcomes in ``database`` under ``run``. With ``env_id`` (the served env),
    a self-evolving curriculum audits every task it writes against it unless the spec's ``audit`` says otherwise."""
    from . import CURRICULA

    parsed = curriculum_spec(spec)
    if not tasks:
        raise CurriculumSpecError("the env has no tasks to make a curriculum of")
    store = CurriculumStore(database)
    info = store.open_run(run, model=model, curriculum=parsed.name, params=parsed.params, seed=seed,
                          inherit=inherit)
    try:
        params = info.params if env_id is None else with_default_audit(parsed.name, info.params, env_id, env_kwargs)
        curriculum = CURRICULA[parsed.name](families_of(tasks), seed=info.seed, **params)
    except TypeError as exc:
        raise CurriculumSpecError(f"{parsed.name}: {exc}") from None
    return CurriculumService(curriculum, store, info, known_tasks=tasks, model=model, server=server)


__all__ = ["CurriculumService", "CurriculumSpecError", "ServiceSpec", "StoreError", "StoredCurriculum",
           "curriculum_spec", "families_of", "open_service"]
