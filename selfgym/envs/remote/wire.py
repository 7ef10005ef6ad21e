"""What travels between an env server and its clients: OpenEnv's wire protocol, with selfgym's action, observation
and state types.

The protocol is OpenEnv's as ``openenv-core`` 0.3.0 speaks it (verified against it), plus the task API of OpenEnv's
pull request #726 (after 0.3.0). On the WebSocket ``/ws`` a client sends ``{"type": "reset", "data": {...}}``,
``{"type": "step", "data": ACTION}``, ``{"type": "state"}`` or ``{"type": "close"}``; the server answers
``{"type": "observation", "data": {"observation": {...}, "reward": r, "done": d}}``, ``{"type": "state", "data":
{...}}`` or ``{"type": "error", "data": {"message": ..., "code": CODE}}`` with one of :class:`ErrorCode`.

selfgym's types (JSON; ``/schema`` serves their schemas):

* :class:`Action`: ``{"text": "..."}`` (what ``env.step`` takes as text) or ``{"tool_call": {"name": ...,
  "arguments": {...}}}`` (see :mod:`selfgym.envs.tools`).
* :class:`Observation`: ``text`` (the observation), ``truncated`` (the step budget ran out: OpenEnv's ``done``
  covers both ends), ``info`` (the verifier's detail, JSON), and at reset ``task`` (its public part: id, family,
  prompt, difficulty; never its data, which holds hidden tests and answers) and ``tools`` (OpenAI form).
* :class:`ResetData`: ``seed``, ``episode_id``, ``task_id`` and ``task`` (a task object; servers accept it only
  when started with ``--allow-custom-tasks``).
* :class:`State`: ``episode_id``, ``step_count``, ``env_id``, ``task_id``, ``done``.

Nothing here imports a web framework: the client (:mod:`.client`) and the server (:mod:`.server`) share it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...io import json_safe
from ..task import Task

OPENENV_VERSION = "0.3.0"  # the openenv-core release whose client the tests drive this protocol with


class ErrorCode(str, Enum):
    """OpenEnv's error codes (``WSErrorCode``)."""

    INVALID_JSON = "INVALID_JSON"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    EXECUTION_ERROR = "EXECUTION_ERROR"
    CAPACITY_REACHED = "CAPACITY_REACHED"
    FACTORY_ERROR = "FACTORY_ERROR"
    SESSION_ERROR = "SESSION_ERROR"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Action(_Strict):
    """One action: text, or a tool call; exactly one of them."""

    text: str | None = Field(default=None, description="The action as text, as env.step takes it")
    tool_call: dict[str, Any] | None = Field(
        default=None, description='A tool call: {"name": ..., "arguments": {...}} or the OpenAI form')
    metadata: dict[str, Any] = Field(default_factory=dict, description="Ignored; OpenEnv's Action has it")

    @model_validator(mode="after")
    def _one_of(self) -> Action:
        if (self.text is None) == (self.tool_call is None):
            raise ValueError("an action holds exactly one of 'text' and 'tool_call'")
        return self

    def env_action(self) -> str | dict[str, Any]:
        """What ``env.step`` takes for this action."""
        return self.text if self.text is not None else self.tool_call


class PublicTask(_Strict):
    """What a client may see of a task: never its data (hidden tests, expected answers, check scripts)."""

    id: str
    family: str
    prompt: str
    difficulty: float = 0

    @classmethod
    def of(cls, task: Task) -> PublicTask:
        return cls(id=task.id, family=task.family, prompt=task.prompt, difficulty=float(task.difficulty))

    def task(self) -> Task:
        return Task(self.id, self.family, self.prompt, self.difficulty)


class Observation(_Strict):
    """What the env answered (OpenEnv's ``Observation`` fields ``done``, ``reward`` and ``metadata`` included)."""

    text: str = Field(description="The observation")
    truncated: bool = Field(default=False, description="The episode ended on its step budget, not on its own")
    info: dict[str, Any] = Field(default_factory=dict, description="The verifier's detail (JSON)")
    task: PublicTask | None = Field(default=None, description="At reset: the task being played (public part)")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="At reset: the env's tools (OpenAI form)")
    done: bool = False
    reward: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """OpenEnv's serialised form: ``{"observation": {...}, "reward": r, "done": d}``."""
        return {"observation": self.model_dump(exclude={"reward", "done", "metadata"}), "reward": self.reward,
                "done": self.done}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Observation:
        return cls(**data.get("observation", {}), reward=data.get("reward"), done=bool(data.get("done", False)))

    @classmethod
    def of_reset(cls, observation: str, info: dict[str, Any], task: Task | None,
                 tools: list[dict[str, Any]]) -> Observation:
        return cls(text=observation, info=json_safe(info), task=PublicTask.of(task) if task else None, tools=tools)

    @classmethod
    def of_step(cls, observation: str, reward: float, terminated: bool, truncated: bool,
                info: dict[str, Any]) -> Observation:
        return cls(text=observation, reward=float(reward), done=bool(terminated or truncated),
                   truncated=bool(truncated and not terminated), info=json_safe(info))


class ResetData(_Strict):
    """What a ``reset`` may carry. Unknown fields are an error (a typo would otherwise play another task)."""

    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    episode_id: str | None = Field(default=None, max_length=255)
    task_id: str | None = Field(default=None, max_length=1_000)
    task: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_task(self) -> ResetData:
        if self.task_id is not None and self.task is not None:
            raise ValueError("give 'task_id' or 'task', not both")
        return self

    def options(self) -> dict[str, Any] | None:
        """``env.reset``'s options."""
        if self.task is not None:
            return {"task": Task.from_dict(self.task)}
        if self.task_id is not None:
            return {"task_id": self.task_id}
        return None


class State(BaseModel):
    """OpenEnv's ``State`` (``episode_id``, ``step_count``) and which env and task."""

    episode_id: str | None = None
    step_count: int = 0
    env_id: str = ""
    task_id: str | None = None
    done: bool = False


class StepRequest(ResetData):
    """Stateless ``POST /step``: a one-action episode on a fresh env, reset with these fields first."""

    action: dict[str, Any]
    timeout_s: float | None = Field(default=None, gt=0)  # OpenEnv's; the env's own limits apply
    request_id: str | None = Field(default=None, max_length=255)


class SplitRequest(_Strict):
    split: str = Field(max_length=100)


class TaskRequest(SplitRequest):
    index: int = Field(ge=0)


class TaskRangeRequest(SplitRequest):
    start: int | None = Field(default=None, ge=0)
    stop: int | None = Field(default=None, ge=0)


class Message(BaseModel):
    """An incoming WebSocket message: OpenEnv's reset, step, state or close."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["reset", "step", "state", "close"]
    data: dict[str, Any] = Field(default_factory=dict)


def reply(kind: Literal["observation", "state", "error", "snapshot"], data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "data": data}


def error(code: ErrorCode, message: str, **extra: Any) -> dict[str, Any]:
    return reply("error", {"message": message, "code": code.value, **extra})
