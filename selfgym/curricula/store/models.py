"""The curriculum store's tables (SQLAlchemy 2 declarative; the schema itself is made by the Alembic migrations in
``migrations/versions``, which must say the same: ``tests/test_curriculum_store.py`` compares them).

* ``runs``: one row per curriculum run (name, model, curriculum, seed); ``inherits_upto`` is the last outcome id of
  earlier runs of the same model that this run starts from (0: starts from nothing), fixed when the run is made so
  every server of the run replays the same prior.
* ``tasks``: every task a run drew, played or wrote, keyed ``(run, family/id)``: its public part, ``plays``,
  ``successes`` and ``draws`` (updated in place, atomically), and for written tasks (``origin = "written"``) the
  whole task (``data``, which may hold hidden tests: the store lives with the server, never with clients), its
  fingerprint and ``audit_verdict`` (nullable: an unaudited proposal has none).
* ``outcomes``: one row per finished episode, unique per ``(run, episode_key)``: a retried write counts once.
  Their ids order the log every server folds into its curriculum.
* ``draws``: one row per task handed out (where the draws go, for the dashboard).
* ``phases``: which server evolves a self-evolving phase (the first to insert the row; the others skip it).
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    curriculum: Mapped[str] = mapped_column(String(100))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    seed: Mapped[int] = mapped_column(Integer, default=0)
    inherits_upto: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("run_id", "key", name="uq_tasks_run_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(1200))
    family: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(1000))
    level: Mapped[int] = mapped_column(Integer, default=0)
    difficulty: Mapped[float] = mapped_column(Float, default=0.0)
    prompt: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(20), default="source")
    data: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of the whole task (written tasks)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audit_verdict: Mapped[str | None] = mapped_column(String(100), nullable=True)
    plays: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[float] = mapped_column(Float, default=0.0)
    draws: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class Outcome(Base):
    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("run_id", "episode_key", name="uq_outcomes_run_episode"),
                      Index("ix_outcomes_model", "model"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    episode_key: Mapped[str] = mapped_column(String(255))
    task_key: Mapped[str] = mapped_column(String(1200))
    family: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(1000))
    level: Mapped[int] = mapped_column(Integer, default=0)
    difficulty: Mapped[float] = mapped_column(Float, default=0.0)
    success: Mapped[float] = mapped_column(Float)
    reward: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(200))
    server: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)


class Draw(Base):
    __tablename__ = "draws"
    __table_args__ = (Index("ix_draws_run", "run_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    task_key: Mapped[str] = mapped_column(String(1200))
    family: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer, default=0)
    server: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)


class Phase(Base):
    __tablename__ = "phases"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    phase: Mapped[int] = mapped_column(Integer, primary_key=True)
    server: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)
