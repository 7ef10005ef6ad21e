"""What ``Task.data["harbor"]`` holds: a Harbor task as selfgym plays it, resolved from its directory."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..task import Task

WORK_DIR = "/work"


class Hook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str
    timeout_s: float = Field(gt=0)


class HarborStep(BaseModel):
    """One step of a multi-step task (``[[steps]]``), resolved from ``steps/<name>/``: what the agent is told, the
    files put in its working directory first (``workdir``: a host folder; its ``setup.sh`` then runs there), the
    step's tests (``tests_dir``, laid over the task's ``tests/``), its time for the agent and its verifier, and the
    reward it must reach for the next step to run (``min_reward``: on ``reward``, or on each named reward)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    instruction: str
    workdir: str | None = None
    setup: bool = False
    healthcheck: dict[str, Any] | None = None
    tests_dir: str | None = None
    agent_timeout_s: float | None = None
    verifier_timeout_s: float = 600.0
    verifier_env: dict[str, str] = Field(default_factory=dict)
    verifier_mode: Literal["shared", "separate"] = "shared"
    min_reward: float | dict[str, float] | None = None

    def passes(self, rewards: dict[str, float] | None) -> bool:
        """Harbor's gate: every threshold met (a missing reward, or no verdict, counts as -inf)."""
        if self.min_reward is None:
            return True
        thresholds = self.min_reward if isinstance(self.min_reward, dict) else {"reward": self.min_reward}
        return all((rewards or {}).get(key, float("-inf")) >= threshold for key, threshold in thresholds.items())


class HarborSpec(BaseModel):
    """A Harbor (or terminal-bench) task directory, read and checked once; JSON, so a Task stays replayable.

    ``environment`` says where the agent works: ``"sandbox"`` is selfgym's pooled sandbox with ``setup`` run in
    ``/work`` (tasks whose Dockerfile is selfgym's template, see :class:`~.config.SelfgymMetadata`);
    ``"image"`` is the task's own image, built from ``context`` (a folder with a Dockerfile) or ``docker_image``,
    in a container of its own for each episode. Paths are the host's: the task directory stays where it is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: str
    layout: Literal["harbor", "terminal-bench"] = "harbor"
    environment: Literal["sandbox", "image"]
    setup: str = ""
    context: str | None = None
    docker_image: str | None = None
    workdir: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    network: Literal["no-network", "public", "allowlist"] = "public"
    cpus: float | None = None
    memory_mb: int | None = None
    storage_mb: int | None = None
    build_timeout_s: float = 600.0
    healthcheck: dict[str, Any] | None = None
    keep_background: bool = True
    answer_file: str | None = None
    agent_timeout_s: float | None = None
    verifier_mode: Literal["shared", "separate"] = "shared"
    verifier_timeout_s: float = 600.0
    verifier_env: dict[str, str] = Field(default_factory=dict)
    verifier_image: str | None = None
    verifier_context: str | None = None
    collect: list[Hook] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)
    tests_dir: str | None = None  # host folder copied to /tests; None when the verifier's image bundles them
    test_script: str | None = None  # the test script when the layout has none of its own (terminal-bench)
    step_tests_dir: str | None = None  # a step's tests/, copied over tests_dir (see for_step)
    steps: list[HarborStep] = Field(default_factory=list)
    reward_strategy: Literal["mean", "final"] = "mean"  # multi_step_reward_strategy

    @property
    def start_dir(self) -> str:
        """Where the agent's shell and the tests start."""
        return self.workdir or WORK_DIR

    def for_step(self, step: HarborStep) -> HarborSpec:
        """The spec the verifier of ``step`` runs with: its tests over the task's, its timeout, env and mode."""
        return self.model_copy(update={
            "step_tests_dir": step.tests_dir, "verifier_timeout_s": step.verifier_timeout_s,
            "verifier_env": {**self.verifier_env, **step.verifier_env}, "verifier_mode": step.verifier_mode,
            "steps": []})


def harbor_spec_of(task: Task) -> HarborSpec | None:
    """The Harbor spec of ``task``, or None for a shell task written inline (setup/check/solution)."""
    raw = task.data.get("harbor")
    if raw is None:
        return None
    try:
        return HarborSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise ValueError(f"task {task.id!r} has an invalid Harbor spec: {exc}") from None
