"""``task.toml`` of a Harbor task (schema 1.x): the part selfgym honours, validated with pydantic.

Harbor's own model (``harbor.models.task.config.TaskConfig``) has many more fields; unknown keys are kept and
ignored here (Harbor validates them), while every setting that would change what a task means and that selfgym
cannot honour is refused with an error naming it: Windows containers, GPUs and TPUs, MCP servers, collect hooks or
artifacts of other compose services, and in multi-step tasks (``[[steps]]``) a separate verifier before the last
step (the agent's environment must live on after it) or a step's own verifier environment.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_TEMPLATE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_STEP_NAME_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


class _Open(BaseModel):
    """A Harbor table: the fields selfgym reads are typed, the rest is kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Healthcheck(_Open):
    command: str
    interval_sec: float = 5.0
    timeout_sec: float = 30.0
    start_period_sec: float = 0.0
    start_interval_sec: float = 5.0
    retries: int = 3


class CollectHook(_Open):
    command: str
    service: str = "main"
    timeout_sec: float = 60.0
    user: str | int | None = None

    @field_validator("service")
    @classmethod
    def _main_only(cls, service: str) -> str:
        if service != "main":
            raise ValueError(f"collect hooks run in the task's one container; service {service!r} is a docker "
                             "compose service, which selfgym does not run")
        return service


class Artifact(_Open):
    source: str
    destination: str | None = None
    exclude: list[str] = Field(default_factory=list)
    service: str | None = None

    @field_validator("source")
    @classmethod
    def _absolute(cls, source: str) -> str:
        if not source.startswith("/") or ".." in source.split("/"):
            raise ValueError(f"artifact source {source!r} must be an absolute path without '..' in selfgym")
        return source

    @field_validator("service")
    @classmethod
    def _main_only(cls, service: str | None) -> str | None:
        if service not in (None, "main"):
            raise ValueError(f"artifacts of compose service {service!r} are not supported (one container only)")
        return service


class EnvironmentConfig(_Open):
    build_timeout_sec: float = 600.0
    docker_image: str | None = None
    os: str = "linux"
    cpus: float | None = None
    memory_mb: int | None = None
    storage_mb: int | None = None
    gpus: int | None = None
    tpu: Any = None
    mcp_servers: list[Any] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    workdir: str | None = None
    network_mode: Literal["no-network", "public", "allowlist"] | None = None
    allow_internet: bool | None = None  # deprecated by Harbor in favour of network_mode

    @model_validator(mode="before")
    @classmethod
    def _legacy_sizes(cls, data: Any) -> Any:
        # Harbor's older 'memory = "2G"' / 'storage = "10G"' fields, as its own model migrates them
        if isinstance(data, dict):
            data = dict(data)
            for old, new in (("memory", "memory_mb"), ("storage", "storage_mb")):
                if isinstance(data.get(old), str):
                    data.setdefault(new, _size_mb(data.pop(old)))
        return data

    @model_validator(mode="after")
    def _runnable_here(self) -> EnvironmentConfig:
        if self.os.lower() != "linux":
            raise ValueError(f"[environment].os = {self.os!r}: selfgym runs Linux containers only")
        if self.gpus or self.tpu:
            raise ValueError("the task asks for GPUs or TPUs, which selfgym's sandboxes do not have")
        if self.mcp_servers:
            raise ValueError("the task gives the agent MCP servers, which selfgym does not run")
        return self

    @property
    def network(self) -> str:
        """The effective network policy: ``network_mode``, else the legacy ``allow_internet``, else public."""
        if self.network_mode is not None:
            return self.network_mode
        if self.allow_internet is not None:
            return "public" if self.allow_internet else "no-network"
        return "public"


class VerifierConfig(_Open):
    timeout_sec: float = 600.0
    env: dict[str, str] = Field(default_factory=dict)
    user: str | int | None = None
    environment_mode: Literal["shared", "separate"] | None = None
    environment: EnvironmentConfig | None = None
    collect: list[CollectHook] = Field(default_factory=list)

    @property
    def mode(self) -> str:
        """Harbor's rule: the explicit mode, else separate when a verifier environment is given, else shared."""
        if self.environment_mode is not None:
            return self.environment_mode
        return "separate" if self.environment is not None else "shared"

    @model_validator(mode="after")
    def _consistent(self) -> VerifierConfig:
        if self.environment_mode == "shared" and self.environment is not None:
            raise ValueError("[verifier].environment_mode = 'shared' cannot have a [verifier.environment]")
        return self


class AgentConfig(_Open):
    timeout_sec: float | None = None
    user: str | int | None = None


class StepVerifierConfig(VerifierConfig):
    """A step's ``[steps.verifier]``. As in Harbor, its ``timeout_sec`` defaults to 600 s (not to the task's), its
    mode to the task's."""

    @model_validator(mode="after")
    def _no_own_environment(self) -> StepVerifierConfig:
        if self.environment is not None:
            raise ValueError("a step's own verifier environment ([steps.verifier.environment]) is not supported; "
                             "give the task's [verifier.environment]")
        if self.collect:
            raise ValueError("a step's own collect hooks ([[steps.verifier.collect]]) are not supported; give them "
                             "in the task's [verifier]")
        return self


class StepConfig(_Open):
    """One ``[[steps]]`` entry of a multi-step task (Harbor 2026-05): ``steps/<name>/`` holds its
    ``instruction.md``, ``tests/`` (laid over the task's ``tests/``), ``solution/`` and ``workdir/`` (files put in
    the working directory before the step; its ``setup.sh`` runs there)."""

    name: str
    agent: AgentConfig = Field(default_factory=AgentConfig)
    verifier: StepVerifierConfig = Field(default_factory=StepVerifierConfig)
    min_reward: float | dict[str, float] | None = None
    healthcheck: Healthcheck | None = None
    artifacts: list[str | Artifact] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _portable_name(cls, name: str) -> str:
        # Harbor's rule: one directory name on every host OS
        if (not name.strip() or name in (".", "..") or name.endswith((".", " "))
                or _STEP_NAME_CHARACTERS.search(name) or len(name.encode("utf-8")) > 255):
            raise ValueError(f"invalid step name {name!r}: a step name is one portable directory name (no path "
                             "separators, control or reserved characters, trailing dots or spaces)")
        return name


class SolutionConfig(_Open):
    env: dict[str, str] = Field(default_factory=dict)


class PackageInfo(_Open):
    name: str
    description: str = ""


class TaskToml(_Open):
    """The validated ``task.toml``. ``metadata`` is free-form; selfgym reads ``metadata.selfgym`` (see
    :class:`SelfgymMetadata`), ``metadata.category`` and ``metadata.difficulty``."""

    schema_version: str = "1.0"
    task: PackageInfo | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    verifier: VerifierConfig = Field(default_factory=VerifierConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)
    solution: SolutionConfig = Field(default_factory=SolutionConfig)
    multi_step_reward_strategy: Literal["mean", "final"] | None = None
    steps: list[StepConfig] | None = None
    artifacts: list[str | Artifact] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _version_rename(cls, data: Any) -> Any:
        if isinstance(data, dict) and "version" in data and "schema_version" not in data:
            data = dict(data)
            data["schema_version"] = data.pop("version")
        return data

    @field_validator("schema_version")
    @classmethod
    def _known_major(cls, version: str) -> str:
        if not str(version).startswith("1."):
            raise ValueError(f"schema_version {version!r}: selfgym reads Harbor task schema 1.x")
        return version

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: list[StepConfig] | None) -> list[StepConfig] | None:
        seen: set[str] = set()
        for step in steps or []:
            key = unicodedata.normalize("NFC", step.name).casefold()  # as Harbor compares them
            if key in seen:
                raise ValueError(f"step names must be unique (case and Unicode forms included): {step.name!r}")
            seen.add(key)
        return steps

    @model_validator(mode="after")
    def _steps_selfgym_plays(self) -> TaskToml:
        for step in (self.steps or [])[:-1]:
            if self.step_verifier_mode(step) == "separate":
                raise ValueError(f"step {step.name!r} has a separate verifier but is not the last step: selfgym "
                                 "runs a separate verifier after the agent's environment is gone, so only the last "
                                 "step may have one")
        return self

    def step_verifier_mode(self, step: StepConfig) -> str:
        """Harbor's rule: the step's explicit mode, else the task's."""
        return step.verifier.environment_mode or self.verifier.mode

    def artifact_sources(self) -> list[str]:
        """Paths the agent's container hands to a separate verifier, besides ``/logs/artifacts``."""
        return [a if isinstance(a, str) else a.source for a in self.artifacts]


class SelfgymMetadata(BaseModel):
    """``[metadata.selfgym]``: how selfgym plays the task, beyond what Harbor says.

    * ``environment = "sandbox"`` declares that ``environment/Dockerfile`` is exactly selfgym's sandbox template
      (:func:`selfgym.envs.harbor.export.sandbox_dockerfile`): the selfgym sandbox image with
      ``environment/setup.sh`` run in ``/work``. selfgym then runs the task in its pooled sandbox instead of
      building the Dockerfile; a Dockerfile that differs from the template is an error, never ignored.
    * ``keep_background``: processes outlive the command that started them (default: true, as in Harbor's
      terminal; selfgym's own tasks say false unless they are about processes).
    * ``answer_file``: the file the instruction asks the answer to be written to; ``submit <answer>`` writes it.
    * ``answer``: the reference answer of such a task, when it is fixed: the reference actions end with
      ``submit <answer>``.
    * ``level``: difficulty 0 (one obvious command) .. 3 (several steps, less common tools).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Literal["sandbox"] | None = None
    keep_background: bool = True
    answer_file: str | None = None
    answer: str | None = None
    level: int | None = Field(default=None, ge=0, le=3)

    @field_validator("answer_file")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        if path is not None and not path.startswith("/"):
            raise ValueError(f"answer_file must be an absolute path, got {path!r}")
        return path

    @model_validator(mode="after")
    def _answer_needs_its_file(self) -> SelfgymMetadata:
        if self.answer is not None and self.answer_file is None:
            raise ValueError("answer needs the answer_file it is written to")
        return self


def resolve_env(values: dict[str, str], *, where: str) -> dict[str, str]:
    """Harbor's ``${VAR}`` / ``${VAR:-default}`` templates filled from the host's environment, as Harbor does."""
    def fill(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ValueError(f"{where}: the host environment variable {name} is not set")

    return {key: _TEMPLATE.sub(fill, str(value)) for key, value in values.items()}


def _size_mb(size: str) -> int:
    text = size.strip().upper()
    factors = {"G": 1024, "M": 1, "K": 1 / 1024}
    if not text or text[-1] not in factors:
        raise ValueError(f"size {size!r}: expected a number with G, M or K, like '2G'")
    value = float(text[:-1]) * factors[text[-1]]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"size {size!r} is not a positive size")
    return int(value)
