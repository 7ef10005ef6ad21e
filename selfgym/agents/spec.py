"""Which agent plays: one :class:`AgentSpec` (an experiment's ``agent:`` block, or an ``--agent`` string) and one
:func:`build_policy`.

``--agent`` strings (``selfgym eval``):

* ``hf:NAME_OR_PATH``: a transformers model (hub name, local folder, or ``smollm2`` for the embedded one);
* ``openai:MODEL@http://host:port/v1``: a model behind an OpenAI-compatible endpoint (``openai:MODEL`` uses
  ``$OPENAI_BASE_URL``; ``openai:http://...`` takes the model from ``--model``);
* ``scripted:oracle``: plays each task's reference solution (what each env's ``reference_reply`` says): the
  ceiling a verifier allows, and a fast agent for tests and benchmarks;
* ``scripted:empty``: replies with nothing (the floor);
* a folder: a saved checkpoint (transformers format, as the trainers save them).

In YAML the same fields: ``{backend: hf, model: smollm2}``, ``{backend: openai, model: m, base_url: ...}``,
``{backend: scripted, model: oracle}``, or ``{backend: scripted, replies: [...]}`` (fixed replies, in turn).
A spec is a small picklable value: Ray actors build their own policy from it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..yaml_config import StrictModel
from .policy import Policy, Sampling

SCRIPTED_AGENTS = ("oracle", "empty")
_OPENAI = re.compile(r"(?P<model>[^@]+)@(?P<url>https?://.+)")
CHECKPOINT_SUBFOLDERS = ("model", "policy")


class AgentSpecError(ValueError):
    """An agent spec that names no agent selfgym can build."""


class AgentSpec(StrictModel):
    """Which policy: ``backend`` (``hf``, ``openai`` or ``scripted``) and ``model`` (the model's name or path, or
    the scripted agent: ``oracle``, ``empty``; with ``replies``, those texts in turn). ``name`` is how results
    and leaderboards show it; ``spec`` the ``--agent`` string it was read from, if any."""

    backend: Literal["hf", "openai", "scripted"] = "hf"
    model: str = "smollm2"
    base_url: str | None = Field(default=None, description="openai: the endpoint (default: $OPENAI_BASE_URL)")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="openai: the variable holding the key")
    batch_size: int = Field(default=8, ge=1, description="conversations generated together (hf)")
    replies: list[str] = Field(default_factory=list, description="scripted: fixed replies, played in turn")
    name: str = ""
    spec: str = ""

    @model_validator(mode="after")
    def _names_an_agent(self) -> AgentSpec:
        if self.backend == "scripted" and not self.replies and self.model not in SCRIPTED_AGENTS:
            raise ValueError(f"a scripted agent is one of {', '.join(SCRIPTED_AGENTS)} (model), or gives replies")
        return self

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return f"scripted:{'replies' if self.replies else self.model}" if self.backend == "scripted" else self.model

    def to_dict(self) -> dict[str, str | None]:
        """What results record of the agent: which one it is, its displayed name and the spec it came from."""
        return {"backend": self.backend, "model": self.model, "base_url": self.base_url, "name": self.display_name,
                "spec": self.spec}

    @property
    def thread_safe(self) -> bool:
        """Whether one policy may serve several threads at once (a local model may not)."""
        return self.backend != "hf"


def parse_agent(spec: str, *, model: str | None = None, name: str | None = None) -> AgentSpec:
    """Parse an ``--agent`` string (see the module docstring); ``model`` completes ``openai:URL``, ``name``
    overrides the displayed name."""
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    label = name or ""
    if kind == "scripted":
        if rest not in SCRIPTED_AGENTS:
            raise AgentSpecError(f"unknown scripted agent {rest!r}; choose one of: "
                                 + ", ".join(f"scripted:{a}" for a in SCRIPTED_AGENTS))
        return AgentSpec(backend="scripted", model=rest, name=label, spec=spec)
    if kind == "openai":
        match = _OPENAI.fullmatch(rest)
        if match:
            return AgentSpec(backend="openai", model=match["model"], base_url=match["url"], name=label, spec=spec)
        if rest.startswith(("http://", "https://")):
            if not model:
                raise AgentSpecError(f"{spec}: name the model, as openai:MODEL@{rest} or with --model")
            return AgentSpec(backend="openai", model=model, base_url=rest, name=label, spec=spec)
        if not rest and not model:
            raise AgentSpecError("openai: needs a model: openai:MODEL@http://host:port/v1")
        return AgentSpec(backend="openai", model=rest or model, name=label, spec=spec)
    if kind == "hf":
        if not rest:
            raise AgentSpecError("hf: needs a model name or path, e.g. hf:smollm2 or hf:Qwen/Qwen2.5-0.5B")
        local = Path(rest).expanduser()
        target = str(checkpoint_folder(local)) if local.is_dir() else rest
        return AgentSpec(backend="hf", model=target, name=label, spec=spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return AgentSpec(backend="hf", model=str(checkpoint_folder(path)), name=label or path.name, spec=spec)
    raise AgentSpecError(
        f"cannot tell which agent {spec!r} is: use hf:NAME_OR_PATH, openai:MODEL@http://host:port/v1, "
        f"scripted:oracle, or the folder of a saved checkpoint"
    )


def checkpoint_folder(path: Path) -> Path:
    """The transformers model folder of a checkpoint: ``path`` itself, or its ``model/`` or ``policy/``."""
    for folder in (path, *(path / sub for sub in CHECKPOINT_SUBFOLDERS)):
        if (folder / "config.json").is_file():
            return folder
    raise AgentSpecError(f"{path} is not a saved model: no config.json in it (or in its "
                         f"{' or '.join(sub + '/' for sub in CHECKPOINT_SUBFOLDERS)})")


def build_policy(agent: AgentSpec, sampling: Sampling, *, device: str | None = None,
                 checkpoint: str | None = None) -> Policy:
    """The policy ``agent`` names, sampling with ``sampling`` by default; ``checkpoint`` (a saved model of a
    run) takes the place of an ``hf`` agent's model."""
    if agent.backend == "scripted":
        from .policy import ScriptedPolicy
        from .scripted import EmptyPolicy, OraclePolicy

        if agent.replies:
            return ScriptedPolicy(agent.replies, cycle=True, sampling=sampling)
        return OraclePolicy(sampling=sampling) if agent.model == "oracle" else EmptyPolicy(sampling)
    if agent.backend == "openai":
        from .openai_policy import OpenAIPolicy

        return OpenAIPolicy(agent.model, base_url=agent.base_url, api_key=os.environ.get(agent.api_key_env),
                            sampling=sampling, max_concurrency=max(8, agent.batch_size))
    from .hf import HFPolicy

    return HFPolicy(checkpoint or agent.model, device=device, sampling=sampling, batch_size=agent.batch_size,
                    name=agent.display_name)
