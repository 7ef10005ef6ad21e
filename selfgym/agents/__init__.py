"""Agents: LLM policies and the ways they improve.

Policies map a chat history to the next assistant message (:class:`Policy`): :class:`HFPolicy` runs a local
transformers model (``HFPolicy.default()`` is the embedded SmolLM2-135M-Instruct, no download needed),
:class:`OpenAIPolicy` asks any OpenAI-compatible server, :class:`ScriptedPolicy` replays a script,
:class:`OraclePolicy` plays each task's reference solution. :class:`AgentSpec` names one (an experiment's
``agent:``, or an ``--agent`` string through :func:`parse_agent`) and :func:`build_policy` builds it.
``selfgym.agents.serve.serve(model)`` exposes a model as an OpenAI-compatible endpoint (``create_app`` for any
policy). Policies may call an env's tools (``act_batch_with_info(tools=...)``; ``rollout(..., tools=True)``).

Episodes: :func:`rollout` / :func:`rollout_batch` play envs with a policy and return :class:`Trajectory` objects
(JSONL via ``append_jsonl``/``read_jsonl``); the envs may live in this process or, made by a
:class:`~selfgym.runtime.RayExecutor`, in env workers on a Ray cluster (:mod:`selfgym.runtime`). Improvement:
:class:`Reflexion` (verbal memory across trials), :class:`SelfDebugging` (explain, read execution feedback, fix:
within one Code-v0 episode) and
:class:`SelfTrainer` (STaR and Re-ReST self-training with LoRA), :class:`TreeLearner` (DPO on sibling pairs of
search trees, Agent Q, and SFT on their successful branches, ReST-MCTS*), :class:`GRPOTrainer` (multi-turn GRPO;
:class:`SCoReTrainer` trains self-correction on it; TRL users:
:func:`tool_environment` for ``environment_factory``, or :class:`SelfgymRollout`), and Stable-Baselines3 wrappers (:class:`CandidateChoiceWrapper`,
:class:`CurriculumTeacherEnv`). Test-time search: :class:`TreeSearch` (MCTS over forks of env states, guided by
the model's self-critique, scored by the env's reward; trees in :mod:`selfgym.agents.search_tree`).

The torch/transformers and openai backends are imported on first use, so ``import selfgym.agents`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .policy import (Completion, ContextLengthError, LockedPolicy, Policy, PolicyError, Sampling, ScriptedPolicy,
                     TokenLogprob, check_messages, tool_call)
from .reflexion import Reflexion, ReflexionConfig, ReflexionResult
from .rollout import rollout, rollout_batch, rollout_many
from .scripted import EmptyPolicy, OraclePolicy
from .self_debugging import SelfDebugging, SelfDebuggingConfig
from .spec import AgentSpec, AgentSpecError, build_policy, parse_agent
from .trajectory import Step, Trajectory, append_jsonl, read_jsonl
from .tree_search import SearchResult, TreeSearch, TreeSearchConfig

if TYPE_CHECKING:
    from .hf import HFPolicy
    from .openai_policy import OpenAIPolicy
    from .grpo import GRPOTrainer
    from .grpo_config import GRPOConfig
    from .score import SCoReTrainer, evaluate_self_correction
    from .score_config import SCoReConfig
    from .sb3 import CandidateChoiceWrapper, CurriculumTeacherEnv, HashingFeaturizer
    from .self_training import SelfTrainer
    from .self_training_config import SelfTrainConfig
    from .trl_env import SelfgymRollout, env_reward, tool_dataset, tool_environment
    from .tree_learning import TreeLearner, expand_tree, preference_pairs
    from .tree_learning_config import TreeLearningConfig
    from .serve import create_app
    from .smollm2 import smollm2_path

_LAZY = {
    "HFPolicy": ".hf",
    "OpenAIPolicy": ".openai_policy",
    "create_app": ".serve",
    "smollm2_path": ".smollm2",
    "SelfTrainConfig": ".self_training_config",
    "SelfTrainer": ".self_training",
    "GRPOConfig": ".grpo_config",
    "GRPOTrainer": ".grpo",
    "SCoReConfig": ".score_config",
    "SCoReTrainer": ".score",
    "evaluate_self_correction": ".score",
    "CandidateChoiceWrapper": ".sb3",
    "CurriculumTeacherEnv": ".sb3",
    "HashingFeaturizer": ".sb3",
    "SelfgymRollout": ".trl_env",
    "env_reward": ".trl_env",
    "tool_environment": ".trl_env",
    "tool_dataset": ".trl_env",
    "TreeLearningConfig": ".tree_learning_config",
    "TreeLearner": ".tree_learning",
    "expand_tree": ".tree_learning",
    "preference_pairs": ".tree_learning",
}

__all__ = [
    "AgentSpec", "AgentSpecError", "CandidateChoiceWrapper", "Completion", "ContextLengthError",
    "CurriculumTeacherEnv", "EmptyPolicy", "GRPOConfig", "GRPOTrainer", "HFPolicy", "HashingFeaturizer",
    "LockedPolicy", "OpenAIPolicy", "OraclePolicy", "Policy", "PolicyError",
    "Reflexion", "ReflexionConfig", "ReflexionResult", "SCoReConfig", "SCoReTrainer", "Sampling", "ScriptedPolicy",
    "SearchResult", "SelfDebugging", "SelfDebuggingConfig", "SelfTrainConfig", "SelfTrainer", "SelfgymRollout", "Step",
    "TokenLogprob", "Trajectory", "TreeLearner", "TreeLearningConfig", "TreeSearch", "TreeSearchConfig",
    "append_jsonl", "build_policy", "check_messages", "create_app", "env_reward", "evaluate_self_correction",
    "expand_tree", "parse_agent", "preference_pairs", "read_jsonl", "rollout", "rollout_batch", "rollout_many",
    "smollm2_path", "tool_call", "tool_dataset", "tool_environment",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
