"""The curriculum store: outcomes, draws and written tasks in a database (SQLite or PostgreSQL), kept across runs
and shared by servers. See :mod:`.store`."""

from .store import CurriculumStore, OutcomeRecord, RunInfo, StoreError, database_url, task_key, task_level

__all__ = ["CurriculumStore", "OutcomeRecord", "RunInfo", "StoreError", "database_url", "task_key", "task_level"]
