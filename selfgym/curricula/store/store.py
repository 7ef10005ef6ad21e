"""Where a curriculum's outcomes, draws and written tasks are kept across runs and shared between servers: a
SQL database through SQLAlchemy 2 (SQLite by default: a file, nothing to start; PostgreSQL for several servers on
several machines, through psycopg 3), its schema made and upgraded by Alembic migrations.

Every write is one short transaction and safe against other writers: an outcome is inserted once per
``(run, episode_key)`` (``ON CONFLICT DO NOTHING``: a retried or replayed write counts once) and only a new one
adds to its task's ``plays``/``successes`` (``SET plays = plays + 1``, atomic in the database, never read and
written back).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...envs.task import Task
from .models import Draw, Outcome, Phase, Run, TaskRow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0001"  # the newest migration


class StoreError(ValueError):
    """A store that cannot be opened or a run that does not match what is asked of it."""


def database_url(target: str) -> str:
    """An SQLAlchemy URL from what a user typed: a file path (SQLite), ``sqlite:///...``, or ``postgresql://...``
    (driven by psycopg 3)."""
    if "://" not in target:
        return f"sqlite:///{Path(target).expanduser().resolve()}"
    scheme, _, rest = target.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if scheme.startswith("postgresql+") or scheme.startswith("sqlite"):
        return target
    raise StoreError(f"unsupported database {scheme!r}; give a file path (SQLite) or postgresql://USER@HOST/DB")


@dataclass(frozen=True)
class RunInfo:
    id: int
    name: str
    model: str
    curriculum: str
    params: dict[str, Any]
    seed: int
    inherits_upto: int


@dataclass(frozen=True)
class OutcomeRecord:
    """One finished episode as the log holds it (``id`` orders the log)."""

    id: int
    task_key: str
    family: str
    task_id: str
    level: int
    difficulty: float
    success: float
    created_at: float


def task_key(task: Task) -> str:
    return f"{task.family}/{task.id}"


def task_level(task: Task) -> int:
    return int(task.data.get("level", round(task.difficulty)))


class CurriculumStore:
    """One database. ``url``: a path or URL (see :func:`database_url`). The schema is migrated to the newest
    version when the store opens (Alembic; concurrent openers on PostgreSQL wait on an advisory lock)."""

    def __init__(self, target: str, *, migrate: bool = True) -> None:
        self.url = database_url(target)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite":
            ensure_parent(target)
            self.engine: Engine = sa.create_engine(self.url, connect_args={"timeout": 30, "check_same_thread": False})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            try:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=4, max_overflow=8)
            except ModuleNotFoundError as exc:
                raise StoreError(f"cannot open {target}: {exc} (pip install 'psycopg[binary]')") from None
        self._lock = threading.Lock()
        if migrate:
            self.migrate()

    # --- schema ----------------------------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to :data:`HEAD` with Alembic (a no-op when it is there)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":  # two servers starting at once: one migrates, the other waits
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the curriculum store {self.safe_url}: {str(exc.orig).strip()}") from None

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def version(self) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        self.engine.dispose()

    # --- runs ------------------------------------------------------------------------------------------------------
    def open_run(self, name: str, *, model: str, curriculum: str, params: dict[str, Any] | None = None,
                 seed: int = 0, inherit: bool = True) -> RunInfo:
        """The run ``name`` (made if new). A new run with ``inherit`` starts from every outcome earlier runs of
        ``model`` recorded (up to now: ``inherits_upto``); an existing run continues where it was, and must have
        been made with the same curriculum."""
        params_json = json.dumps(params or {}, sort_keys=True)
        with self.engine.begin() as connection:
            row = connection.execute(sa.select(Run).where(Run.name == name)).mappings().first()
            if row is None:
                upto = 0
                if inherit:
                    upto = connection.execute(sa.select(sa.func.coalesce(sa.func.max(Outcome.id), 0))
                                              .where(Outcome.model == model)).scalar_one()
                insert = self._insert(Run).values(name=name, model=model, curriculum=curriculum, params=params_json,
                                                  seed=seed, inherits_upto=upto, created_at=time.time())
                connection.execute(insert.on_conflict_do_nothing())  # another server made it just now: use theirs
                row = connection.execute(sa.select(Run).where(Run.name == name)).mappings().one()
        if row["curriculum"] != curriculum:
            raise StoreError(f"run {name!r} in {self.safe_url} uses the {row['curriculum']!r} curriculum, not "
                             f"{curriculum!r}; name another run (--curriculum-run)")
        return RunInfo(row["id"], row["name"], row["model"], row["curriculum"], json.loads(row["params"]),
                       row["seed"], row["inherits_upto"])

    def runs(self) -> list[RunInfo]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(Run).order_by(Run.id)).mappings().all()
        return [RunInfo(r["id"], r["name"], r["model"], r["curriculum"], json.loads(r["params"]), r["seed"],
                        r["inherits_upto"]) for r in rows]

    # --- writes ----------------------------------------------------------------------------------------------------
    def _insert(self, table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _ensure_task(self, connection: Connection, run_id: int, task: Task) -> None:
        connection.execute(self._insert(TaskRow).values(
            run_id=run_id, key=task_key(task), family=task.family, task_id=task.id, level=task_level(task),
            difficulty=float(task.difficulty), prompt=task.prompt, origin="source", plays=0, successes=0.0, draws=0,
            created_at=time.time()).on_conflict_do_nothing())

    def record_draw(self, run_id: int, task: Task, *, server: str = "") -> None:
        """Count one hand-out of ``task`` (for the dashboard's "where the draws go")."""
        key = task_key(task)
        with self.engine.begin() as connection:
            self._ensure_task(connection, run_id, task)
            connection.execute(sa.update(TaskRow).where(TaskRow.run_id == run_id, TaskRow.key == key)
                               .values(draws=TaskRow.draws + 1))
            connection.execute(sa.insert(Draw).values(run_id=run_id, task_key=key, family=task.family,
                                                      level=task_level(task), server=server, created_at=time.time()))

    def record_outcome(self, run_id: int, episode_key: str, task: Task, success: float, *, reward: float | None = None,
                       model: str, server: str = "") -> bool:
        """Record a finished episode; False (and nothing changed) when ``episode_key`` was recorded before."""
        if not 0.0 <= success <= 1.0:
            raise ValueError(f"success must lie in [0, 1], got {success}")
        key = task_key(task)
        with self.engine.begin() as connection:
            self._ensure_task(connection, run_id, task)
            inserted = connection.execute(self._insert(Outcome).values(
                run_id=run_id, episode_key=episode_key, task_key=key, family=task.family, task_id=task.id,
                level=task_level(task), difficulty=float(task.difficulty), success=float(success),
                reward=float(success if reward is None else reward), model=model, server=server,
                created_at=time.time()).on_conflict_do_nothing().returning(Outcome.id)).first()
            if inserted is None:
                return False
            connection.execute(sa.update(TaskRow).where(TaskRow.run_id == run_id, TaskRow.key == key)
                               .values(plays=TaskRow.plays + 1, successes=TaskRow.successes + float(success)))
        return True

    def add_written(self, run_id: int, task: Task, *, fingerprint: str, audit_verdict: str | None = None) -> bool:
        """Keep a task the curriculum wrote (the whole task, to be played by every server of the run); False
        when the run already has it."""
        with self.engine.begin() as connection:
            inserted = connection.execute(self._insert(TaskRow).values(
                run_id=run_id, key=task_key(task), family=task.family, task_id=task.id, level=task_level(task),
                difficulty=float(task.difficulty), prompt=task.prompt, origin="written",
                data=json.dumps(task.to_dict(), sort_keys=True), fingerprint=fingerprint,
                audit_verdict=audit_verdict, plays=0, successes=0.0, draws=0, created_at=time.time(),
            ).on_conflict_do_nothing().returning(TaskRow.id)).first()
        return inserted is not None

    def claim_phase(self, run_id: int, phase: int, *, server: str = "") -> bool:
        """True for the one caller (of any server) that first claims ``phase`` of the run."""
        with self.engine.begin() as connection:
            inserted = connection.execute(self._insert(Phase).values(
                run_id=run_id, phase=phase, server=server, created_at=time.time()
            ).on_conflict_do_nothing().returning(Phase.phase)).first()
        return inserted is not None

    # --- reads -----------------------------------------------------------------------------------------------------
    def outcomes(self, run_id: int, *, after: int = 0, limit: int | None = None) -> list[OutcomeRecord]:
        """The run's outcomes with ids above ``after``, oldest first."""
        query = (sa.select(Outcome.id, Outcome.task_key, Outcome.family, Outcome.task_id, Outcome.level,
                           Outcome.difficulty, Outcome.success, Outcome.created_at)
                 .where(Outcome.run_id == run_id, Outcome.id > after).order_by(Outcome.id))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [OutcomeRecord(*row) for row in connection.execute(query)]

    def recent_outcomes(self, run_id: int, limit: int) -> list[OutcomeRecord]:
        """The run's last ``limit`` outcomes, oldest first."""
        query = (sa.select(Outcome.id, Outcome.task_key, Outcome.family, Outcome.task_id, Outcome.level,
                           Outcome.difficulty, Outcome.success, Outcome.created_at)
                 .where(Outcome.run_id == run_id).order_by(Outcome.id.desc()).limit(limit))
        with self.engine.connect() as connection:
            return [OutcomeRecord(*row) for row in connection.execute(query)][::-1]

    def inherited(self, run: RunInfo) -> list[OutcomeRecord]:
        """The outcomes of earlier runs of the run's model that it starts from."""
        if not run.inherits_upto:
            return []
        query = (sa.select(Outcome.id, Outcome.task_key, Outcome.family, Outcome.task_id, Outcome.level,
                           Outcome.difficulty, Outcome.success, Outcome.created_at)
                 .where(Outcome.model == run.model, Outcome.run_id != run.id, Outcome.id <= run.inherits_upto)
                 .order_by(Outcome.id))
        with self.engine.connect() as connection:
            return [OutcomeRecord(*row) for row in connection.execute(query)]

    def written(self, run_id: int, *, after: int = 0) -> list[tuple[int, Task, str | None]]:
        """The run's written tasks with row ids above ``after``: (row id, task, audit verdict)."""
        query = (sa.select(TaskRow.id, TaskRow.data, TaskRow.audit_verdict)
                 .where(TaskRow.run_id == run_id, TaskRow.origin == "written", TaskRow.id > after).order_by(TaskRow.id))
        with self.engine.connect() as connection:
            return [(row_id, Task.from_dict(json.loads(data)), verdict)
                    for row_id, data, verdict in connection.execute(query)]

    def tasks(self, run_id: int, *, origin: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        """Per task: family, id, level, difficulty, prompt, origin, audit verdict, plays, successes, draws."""
        query = (sa.select(TaskRow.key, TaskRow.family, TaskRow.task_id, TaskRow.level, TaskRow.difficulty,
                           TaskRow.prompt, TaskRow.origin, TaskRow.audit_verdict, TaskRow.plays, TaskRow.successes,
                           TaskRow.draws, TaskRow.created_at)
                 .where(TaskRow.run_id == run_id).order_by(TaskRow.id).limit(limit))
        if origin is not None:
            query = query.where(TaskRow.origin == origin)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def draws(self, run_id: int, *, limit: int = 20_000) -> list[tuple[int, str, int, float]]:
        """The run's last ``limit`` draws, oldest first: (id, family, level, time)."""
        query = (sa.select(Draw.id, Draw.family, Draw.level, Draw.created_at).where(Draw.run_id == run_id)
                 .order_by(Draw.id.desc()).limit(limit))
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)][::-1]

    def counts(self, run_id: int) -> dict[str, int]:
        with self.engine.connect() as connection:
            def count(table) -> int:
                return connection.execute(sa.select(sa.func.count()).select_from(table)
                                          .where(table.run_id == run_id)).scalar_one()
            return {"outcomes": count(Outcome), "draws": count(Draw), "tasks": count(TaskRow),
                    "phases": count(Phase)}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never wait for the writer; busy_timeout: writers of several processes queue instead of failing
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable when a process dies (kill -9), not the OS
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def ensure_parent(target: str) -> None:
    """Make the folder of an SQLite file (a store's first use)."""
    if "://" not in target:
        os.makedirs(Path(target).expanduser().resolve().parent, exist_ok=True)


