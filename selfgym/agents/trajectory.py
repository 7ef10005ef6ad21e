"""Trajectories: what an episode was, step by step, in a form every method stores and reads back (JSONL)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import io
from ..io import json_safe
from ..envs.task import Task


@dataclass
class Step:
    """One action and what the env answered. Token counts and seconds are the policy's (generation) and the
    env's (verification) costs of this step."""

    action: str
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    policy_seconds: float = 0.0
    env_seconds: float = 0.0


@dataclass
class Trajectory:
    """A whole episode: the task, the chat as the policy saw it, and every step.

    ``messages`` is the conversation: ``system`` (if any), then alternating ``user`` (observations, the first one
    the task) and ``assistant`` (actions), ending with the last observation. ``meta`` holds what the method that
    produced it wants to keep (trial number, reflections used, the policy's name, ...). ``error`` is set when the
    episode could not be played to its end for a reason outside the agent
    (:class:`~selfgym.sandbox.InfrastructureError`): such an episode is neither a success nor a failure, and no
    method learns from it or counts it.
    """

    task: Task
    messages: list[dict[str, str]]
    steps: list[Step]
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def final_reward(self) -> float:
        return self.steps[-1].reward if self.steps else 0.0

    @property
    def total_reward(self) -> float:
        return float(sum(step.reward for step in self.steps))

    @property
    def success(self) -> bool:
        """The episode ended with full reward (all tests passed, the check succeeded, the answer was right)."""
        return self.error is None and self.final_reward >= 1.0

    @property
    def prompt_tokens(self) -> int:
        return sum(step.prompt_tokens for step in self.steps)

    @property
    def completion_tokens(self) -> int:
        return sum(step.completion_tokens for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.policy_seconds + step.env_seconds for step in self.steps)

    @property
    def feedback(self) -> str:
        """The env's last observation: what a reflection reads."""
        return self.steps[-1].observation if self.steps else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task.to_dict(), "messages": self.messages, "seed": self.seed, "meta": json_safe(self.meta),
            "steps": [{**asdict(step), "info": json_safe(step.info)} for step in self.steps],
            "success": self.success, "final_reward": self.final_reward, "error": self.error,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Trajectory:
        return cls(task=Task.from_dict(raw["task"]), messages=list(raw["messages"]),
                   steps=[Step(**step) for step in raw["steps"]], seed=raw.get("seed"), meta=dict(raw.get("meta", {})),
                   error=raw.get("error"))

    def transcript(self) -> str:
        """The conversation as plain text (for prompts that quote an attempt)."""
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages if m["role"] != "system")


def append_jsonl(path: str | Path, trajectories: Iterable[Trajectory]) -> None:
    """Append trajectories to a JSONL file, one line each, fsync'd (see :func:`selfgym.io.append_jsonl`)."""
    io.append_jsonl(path, (trajectory.to_dict() for trajectory in trajectories))


def read_jsonl(path: str | Path) -> Iterator[Trajectory]:
    """Trajectories from a JSONL file; a torn last line (a write cut by a kill) is skipped."""
    for number, row in enumerate(io.read_jsonl(path), start=1):
        try:
            yield Trajectory.from_dict(row)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: record {number} is not a trajectory ({exc})") from None
