"""Gymnasium environments. Importing :mod:`selfgym` registers every id (``selfgym/Code-v0`` and so on)."""

from .lease import SandboxLease
from .registration import ENV_IDS, register_envs
from .spaces import UnicodeText
from .task import Task, TaskSource

__all__ = ["ENV_IDS", "SandboxLease", "Task", "TaskSource", "UnicodeText", "register_envs"]
