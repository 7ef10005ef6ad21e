"""Gymnasium environments. Importing :mod:`selfgym` registers every id (``selfgym/Code-v0`` and so on)."""

from .base import TextEnv, Turn
from .lease import SandboxLease
from .pools import EnvPools, env_class, pool_for, sandbox_spec
from .registration import ENV_IDS, register_envs
from .self_correction import SelfCorrection
from .sources import TaskList, read_jsonl
from .spaces import UnicodeText
from .task import Task, TaskSource
from .tools import Tool, ToolCall, ToolCallError

__all__ = ["ENV_IDS", "EnvPools", "SandboxLease", "SelfCorrection", "Task", "TaskList", "TaskSource", "TextEnv", "Tool",
           "ToolCall", "ToolCallError", "Turn", "UnicodeText", "env_class", "pool_for", "read_jsonl", "register_envs", "sandbox_spec"]
