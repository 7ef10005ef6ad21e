"""The tree a search over env states builds (Agent Q, ReST-MCTS*): what each branch did and what it was worth.

A node is the point an episode reached after the actions on its path from the root: the action that led there
(the assistant's text), what the env answered (observation, reward, whether the episode ended there), and the
statistics of the search (visits, the sum of the values backed up through it, the prior a self-critique gave the
action among its siblings). The root is the task's first observation. Rewards and ``success`` come from the env's
verifier only; the policy's and the critic's texts are kept for reading, never trusted for a reward.

Trees are stored one per line in JSONL (:func:`append_trees`, :func:`read_trees`), so a search's record can be read
back, viewed (``selfgym tree show``) and learned from (preference pairs from siblings, STaR on the best branches).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import io
from ..envs.task import Task
from ..io import json_safe
from .trajectory import Step, Trajectory


@dataclass
class TreeNode:
    """One env state of the search. ``value`` is the mean of the returns backed up through the node (0 before
    any), in the env's reward units; ``prior`` is the share the self-critique gave this action among its siblings
    (uniform when there was none)."""

    id: int
    parent: int | None
    depth: int  # env steps from the root
    action: str | None  # the reply that led here; None at the root
    observation: str  # the env's answer to it (at the root: the task's first observation)
    reward: float = 0.0  # the env's reward for that step
    terminal: bool = False  # the episode ended here (terminated or truncated)
    success: bool = False  # ended here with full reward (the env said so)
    prior: float = 1.0
    visits: int = 0
    value_sum: float = 0.0
    children: list[int] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # tokens, seconds, the critique's text, ...

    @property
    def value(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0


@dataclass
class SearchTree:
    """The nodes of one task's search, ``nodes[0]`` the root; ``prefix`` is the conversation before the first
    action (system prompt and the task's first message, as the policy saw them)."""

    task: Task
    prefix: list[dict[str, str]]
    nodes: list[TreeNode]
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # env id, budget, steps and tokens spent, ...

    @classmethod
    def start(cls, task: Task, prefix: list[dict[str, str]], observation: str, *, seed: int | None = None,
              meta: Mapping[str, Any] | None = None) -> SearchTree:
        return cls(task, list(prefix), [TreeNode(0, None, 0, None, observation)], seed, dict(meta or {}))

    @property
    def root(self) -> TreeNode:
        return self.nodes[0]

    def add_child(self, parent: int, action: str, observation: str, reward: float, terminal: bool, success: bool,
                  *, prior: float = 1.0, meta: Mapping[str, Any] | None = None) -> TreeNode:
        node = TreeNode(len(self.nodes), parent, self.nodes[parent].depth + 1, action, observation, float(reward),
                        bool(terminal), bool(success), float(prior), meta=dict(meta or {}))
        self.nodes.append(node)
        self.nodes[parent].children.append(node.id)
        return node

    def path(self, node_id: int) -> list[TreeNode]:
        """The nodes from the root to ``node_id``, both included."""
        path = []
        node: TreeNode | None = self.nodes[node_id]
        while node is not None:
            path.append(node)
            node = self.nodes[node.parent] if node.parent is not None else None
        return path[::-1]

    def messages(self, node_id: int) -> list[dict[str, str]]:
        """The conversation the policy sees at ``node_id``: the prefix, then each action and the env's answer."""
        messages = [dict(m) for m in self.prefix]
        for node in self.path(node_id)[1:]:
            messages += [{"role": "assistant", "content": node.action or ""}, {"role": "user", "content": node.observation}]
        return messages

    def leaves(self) -> list[TreeNode]:
        return [node for node in self.nodes if not node.children]

    def trajectory(self, node_id: int, meta: Mapping[str, Any] | None = None) -> Trajectory:
        """The episode the path to ``node_id`` played, as a :class:`Trajectory` (what self-training reads)."""
        steps = [Step(node.action or "", node.observation, node.reward, node.terminal, False, {},
                      int(node.meta.get("prompt_tokens", 0)), int(node.meta.get("completion_tokens", 0)))
                 for node in self.path(node_id)[1:]]
        return Trajectory(self.task, self.messages(node_id), steps, self.seed, {"tree_node": node_id, **(meta or {})})

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.to_dict(), "prefix": self.prefix, "seed": self.seed, "meta": json_safe(self.meta),
                "nodes": [{**asdict(node), "meta": json_safe(node.meta)} for node in self.nodes]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SearchTree:
        nodes = [TreeNode(**node) for node in raw["nodes"]]
        if not nodes or nodes[0].parent is not None or any(n.id != i for i, n in enumerate(nodes)):
            raise ValueError("a search tree's nodes must be numbered from 0, the root first")
        return cls(Task.from_dict(raw["task"]), list(raw["prefix"]), nodes, raw.get("seed"), dict(raw.get("meta", {})))


def append_trees(path: str | Path, trees: Iterable[SearchTree]) -> None:
    """Append trees to a JSONL file, one line each, fsync'd."""
    io.append_jsonl(path, (tree.to_dict() for tree in trees))


def read_trees(path: str | Path) -> Iterator[SearchTree]:
    """Trees from a JSONL file; a torn last line (a write cut by a kill) is skipped."""
    for number, row in enumerate(io.read_jsonl(path), start=1):
        try:
            yield SearchTree.from_dict(row)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: record {number} is not a search tree ({exc})") from None
