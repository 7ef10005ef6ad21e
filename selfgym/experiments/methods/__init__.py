"""The experiment methods, one class each, behind one interface (:class:`~.base.Method`).

To add a method: a spec in :mod:`selfgym.experiments.config` (a member of ``MethodSpec`` with its own
``name: Literal[...]`` and fields), a :class:`Method` subclass here that plays its steps and learns in
``end_step``, and its name in :data:`METHODS`.
"""

from __future__ import annotations

from .base import Context, Method, StepResult
from .eval_only import EvalOnly
from .grpo import GRPOMethod, SCoReMethod
from .reflexion import ReflexionMethod
from .self_debugging import SelfDebuggingMethod
from .self_training import SelfTraining
from .tree_search import TreeSearchMethod

METHODS: dict[str, type[Method]] = {
    "eval-only": EvalOnly,
    "reflexion": ReflexionMethod,
    "self-training": SelfTraining,
    "re-rest": SelfTraining,
    "grpo": GRPOMethod,
    "tree-search": TreeSearchMethod,
    "score": SCoReMethod,
    "self-debugging": SelfDebuggingMethod,
}

__all__ = ["METHODS", "Context", "EvalOnly", "GRPOMethod", "Method", "ReflexionMethod", "SCoReMethod",
           "SelfDebuggingMethod", "SelfTraining", "StepResult", "TreeSearchMethod"]
