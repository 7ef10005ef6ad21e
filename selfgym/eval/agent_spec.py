"""Which agent an evaluation runs: ``--agent`` specs, and the policies they build.

Specs:

* ``hf:NAME_OR_PATH``: a transformers model (hub name, local folder, or ``smollm2`` for the embedded one);
* ``openai:MODEL@http://host:port/v1``: a model behind an OpenAI-compatible endpoint (``openai:MODEL`` uses
  ``$OPENAI_BASE_URL``; ``openai:http://...`` takes the model from ``--model``);
* ``scripted:oracle``: plays each task's reference solution (HumanEval canonical solutions, shell tasks'
  scripted solutions, math gold answers): the ceiling a verifier allows, and a fast agent for tests and
  benchmarks;
* ``scripted:empty``: replies with nothing (the floor);
* a folder: a saved checkpoint (transformers format, as the trainers save them).

A spec is a small picklable value: Ray actors build their own policy from it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agents.policy import Completion, Policy, PolicyError, Sampling, truncate_at_stop
from ..envs.task import Task

SCRIPTED_AGENTS = ("oracle", "empty")
_OPENAI = re.compile(r"(?P<model>[^@]+)@(?P<url>https?://.+)")
CHECKPOINT_SUBFOLDERS = ("model", "policy")


class AgentSpecError(ValueError):
    """An ``--agent`` spec that names no agent selfgym can build."""


@dataclass(frozen=True)
class AgentSpec:
    """A parsed ``--agent`` spec. ``kind`` is ``hf``, ``openai`` or ``scripted``; ``target`` the model name or
    path, or the scripted agent's name; ``name`` is how results and leaderboards show the agent."""

    kind: str
    target: str
    base_url: str | None = None
    name: str = ""
    spec: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            name = f"scripted:{self.target}" if self.kind == "scripted" else self.target
            object.__setattr__(self, "name", name)

    @property
    def thread_safe(self) -> bool:
        """Whether one policy may serve several threads at once (a local model may not)."""
        return self.kind != "hf"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "base_url": self.base_url, "name": self.name,
                "spec": self.spec}


def parse_agent(spec: str, *, model: str | None = None, name: str | None = None) -> AgentSpec:
    """Parse an ``--agent`` spec (see the module docstring); ``model`` completes ``openai:URL``, ``name``
    overrides the displayed name."""
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    label = name or ""
    if kind == "scripted":
        if rest not in SCRIPTED_AGENTS:
            raise AgentSpecError(f"unknown scripted agent {rest!r}; choose one of: "
                                 + ", ".join(f"scripted:{a}" for a in SCRIPTED_AGENTS))
        return AgentSpec("scripted", rest, name=label, spec=spec)
    if kind == "openai":
        match = _OPENAI.fullmatch(rest)
        if match:
            return AgentSpec("openai", match["model"], match["url"], name=label, spec=spec)
        if rest.startswith(("http://", "https://")):
            if not model:
                raise AgentSpecError(f"{spec}: name the model, as openai:MODEL@{rest} or with --model")
            return AgentSpec("openai", model, rest, name=label, spec=spec)
        if not rest and not model:
            raise AgentSpecError("openai: needs a model: openai:MODEL@http://host:port/v1")
        return AgentSpec("openai", rest or model, None, name=label, spec=spec)
    if kind == "hf":
        if not rest:
            raise AgentSpecError("hf: needs a model name or path, e.g. hf:smollm2 or hf:Qwen/Qwen2.5-0.5B")
        local = Path(rest).expanduser()
        target = str(checkpoint_folder(local)) if local.is_dir() else rest
        return AgentSpec("hf", target, name=label, spec=spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return AgentSpec("hf", str(checkpoint_folder(path)), name=label or path.name, spec=spec)
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


def build_policy(agent: AgentSpec, sampling: Sampling, *, tasks: Iterable[Task] = (),
                 device: str | None = None, batch_size: int = 8) -> Policy:
    """The policy ``agent`` names, sampling with ``sampling`` by default. ``tasks`` are the tasks the oracle
    may be asked about."""
    if agent.kind == "scripted":
        if agent.target == "oracle":
            return OraclePolicy(tasks, sampling=sampling)
        return EmptyPolicy(sampling)
    if agent.kind == "openai":
        from ..agents.openai_policy import OpenAIPolicy

        return OpenAIPolicy(agent.target, base_url=agent.base_url, sampling=sampling,
                            max_concurrency=max(8, batch_size))
    if agent.kind == "hf":
        from ..agents.hf import HFPolicy

        return HFPolicy(agent.target, device=device, sampling=sampling, batch_size=batch_size,
                        name=agent.name)
    raise AgentSpecError(f"unknown agent kind {agent.kind!r}")


class LockedPolicy(Policy):
    """Lets several threads share a policy that serves one at a time (a local model): calls take turns."""

    def __init__(self, inner: Policy) -> None:
        super().__init__(inner.sampling)
        self.inner = inner
        self.name = inner.name
        self._lock = threading.Lock()

    def _complete(self, conversations: list[list[dict[str, str]]], sampling: Sampling) -> list[Completion]:
        with self._lock:
            return self.inner.act_batch_with_info(conversations, sampling)


# --- the oracle ---------------------------------------------------------------------------------------------

def reference_actions(task: Task) -> list[str]:
    """The actions that solve ``task`` by its own reference: a code task's canonical solution, a shell task's
    scripted solution, a math task's gold answer. ``ValueError`` if the task carries none."""
    data = task.data
    if data.get("canonical_solution"):
        return [f"```python\n{data['canonical_solution']}\n```"]
    if isinstance(data.get("solution"), (list, tuple)) and (data.get("check") or data.get("harbor")):
        return [str(action) for action in data["solution"]]
    if data.get("answer") is not None:
        answer = str(data["answer"])
        if "\n" in answer or answer.count("{") != answer.count("}"):
            return [f"<answer>{answer}</answer>"]
        return [f"The answer is \\boxed{{{answer}}}."]
    raise ValueError(f"task {task.id!r} has no reference solution (canonical_solution, solution or answer)")


class _StatelessScript(Policy):
    """A scripted policy whose reply is a function of the conversation alone (it keeps no record of calls, so
    it can play any number of episodes from any number of threads)."""

    def reply(self, messages: list[dict[str, str]]) -> str:
        raise NotImplementedError

    def _complete(self, conversations: list[list[dict[str, str]]], sampling: Sampling) -> list[Completion]:
        return [Completion(text=truncate_at_stop(self.reply(messages), sampling.stop)[0])
                for messages in conversations]


class EmptyPolicy(_StatelessScript):
    """Replies with nothing: the floor of a suite."""

    name = "scripted:empty"

    def reply(self, messages: list[dict[str, str]]) -> str:
        return ""


def is_web_task(task: Task) -> bool:
    """A Web-v0 task: its reference reacts to the page (element ids), so it is played observation by
    observation."""
    return "miniwob" in task.data or "reference" in task.data


def signature(task: Task) -> str:
    """Text of ``task`` that the env's first observation contains: the prompt, or for a MiniWoB++ task (whose
    goal is read from the page, the same prompt for all) its page's file name in the URL."""
    if "miniwob" in task.data:
        return f"/miniwob/{task.data['miniwob']}.html"
    return task.prompt.strip()


class OraclePolicy(_StatelessScript):
    """Plays each task's reference solution: :func:`reference_actions`, one per turn (repeating the last), or
    for web tasks the env's own :class:`~selfgym.envs.web.reference.ReferencePolicy`, replayed over the
    observations so far (it finds elements by role and name in each page).

    A policy sees only the conversation, so the oracle recognises the task by its :func:`signature`, which the
    env's first observation contains (the longest one found there wins, so a prompt that is part of another
    cannot be mistaken for it). A conversation about no known task is a :class:`PolicyError`.
    """

    name = "scripted:oracle"

    def __init__(self, tasks: Iterable[Task], *, sampling: Sampling | None = None) -> None:
        super().__init__(sampling)
        self._tasks: dict[str, Task] = {}
        for task in tasks:
            self._tasks.setdefault(signature(task), task)
        # longest first: the first signature found in an observation is the most specific one
        self._signatures = sorted(self._tasks, key=len, reverse=True)

    def reply(self, messages: list[dict[str, str]]) -> str:
        observations = [m["content"] for m in messages if m["role"] == "user"]
        first = observations[0] if observations else ""
        found = next((s for s in self._signatures if s and s in first), None)
        if found is None:
            raise PolicyError("the oracle was asked about a task it was not given")
        task = self._tasks[found]
        if is_web_task(task):
            from ..envs.web.reference import ReferencePolicy

            reference = ReferencePolicy(task)
            return [reference(observation) for observation in observations][-1]
        try:
            actions = reference_actions(task)
        except ValueError:
            return "(the oracle knows no solution to this task)"
        turn = sum(m["role"] == "assistant" for m in messages)
        return actions[min(turn, len(actions) - 1)]
