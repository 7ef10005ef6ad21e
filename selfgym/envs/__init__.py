"""Gymnasium environments. Importing :mod:`selfgym` registers every id (``selfgym/Code-v0`` and so on)."""

from .base import TextEnv, Turn
from .lease import SandboxLease
from .pools import env_class, pool_for, sandbox_spec
from .registration import ENV_IDS, register_envs
from .sources import TaskList, read_jsonl
from .spaces import UnicodeText
from .task import Task, TaskSource

__all__ = ["ENV_IDS", "SandboxLease", "Task", "TaskList", "TaskSource", "TextEnv", "Turn", "UnicodeText", "env_class",
           "pool_for", "read_jsonl", "register_envs", "sandbox_spec"]
