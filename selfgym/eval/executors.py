"""The executors evaluations run on: :mod:`selfgym.agents.executors` (they live there, below evaluation, so
that rollouts and trainers use them too); their names stay importable from here."""

from ..agents.executors import (
    Executor,
    ExecutorError,
    LocalExecutor,
    RayExecutor,
    Worker,
    WorkerFactory,
    make_executor,
)

__all__ = ["Executor", "ExecutorError", "LocalExecutor", "RayExecutor", "Worker", "WorkerFactory",
           "make_executor"]
