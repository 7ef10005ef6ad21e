"""Agents: LLM policies and the ways they improve.

Policies map a chat history to the next assistant message (:class:`Policy`): :class:`HFPolicy` runs a local
transformers model (``HFPolicy.default()`` is the embedded SmolLM2-135M-Instruct, no download needed),
:class:`OpenAIPolicy` asks any OpenAI-compatible server, :class:`ScriptedPolicy` replays a script.
``selfgym.agents.serve.serve(model)`` exposes a model as an OpenAI-compatible endpoint (``create_app`` for any
policy).

The torch/transformers and openai backends are imported on first use, so ``import selfgym.agents`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .policy import Completion, Policy, PolicyError, Sampling, ScriptedPolicy, check_messages

if TYPE_CHECKING:
    from .hf import ContextLengthError, HFPolicy
    from .openai_policy import OpenAIPolicy
    from .serve import create_app
    from .smollm2 import smollm2_path

_LAZY = {
    "HFPolicy": ".hf",
    "ContextLengthError": ".hf",
    "OpenAIPolicy": ".openai_policy",
    "create_app": ".serve",
    "smollm2_path": ".smollm2",
}

__all__ = [
    "Completion",
    "ContextLengthError",
    "HFPolicy",
    "OpenAIPolicy",
    "Policy",
    "PolicyError",
    "Sampling",
    "ScriptedPolicy",
    "check_messages",
    "create_app",
    "smollm2_path",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
