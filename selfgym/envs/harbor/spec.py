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

    @property
    def start_dir(self) -> str:
        """Where the agent's shell and the tests start."""
        return self.workdir or WORK_DIR


def harbor_spec_of(task: Task) -> HarborSpec | None:
    """The Harbor spec of ``task``, or None for a shell task written inline (setup/check/solution)."""
    raw = task.data.get("harbor")
    if raw is None:
        return None
    try:
        return HarborSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise ValueError(f"task {task.id!r} has an invalid Harbor spec: {exc}") from None
