"""Gymnasium environments. Importing :mod:`selfgym` registers every id (``selfgym/Code-v0`` and so on)."""

from .task import Task, TaskSource

__all__ = ["Task", "TaskSource"]
