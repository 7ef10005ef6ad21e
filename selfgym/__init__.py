"""selfgym: a gym where LLM agents improve themselves.

Gymnasium environments for code, shell, math and web tasks run untrusted actions in Docker sandboxes
(:mod:`selfgym.sandbox`); agents improve through reflection, self-training and RL under a curriculum.
"""

from importlib.metadata import PackageNotFoundError, version

from .envs import Task, register_envs

try:
    __version__ = version("selfgym")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

register_envs()

__all__ = ["Task", "__version__"]
