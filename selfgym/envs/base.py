"""The base class of selfgym's text environments: task selection, step budget, malformed actions, transcript."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym

from ..sandbox import Limits, Sandbox, SandboxPool
from .lease import SandboxLease
from .spaces import MAX_TEXT_LENGTH, UnicodeText
from .task import Task, TaskSource


@dataclass
class Turn:
    """What a subclass's ``_act`` returns for one action."""

    observation: str
    reward: float = 0.0
    terminated: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class TextEnv(gym.Env[str, str]):
    """A multi-turn text environment over a :class:`TaskSource`, optionally backed by a sandbox.

    Subclasses implement ``_begin(task) -> (observation, info)`` and ``_act(action) -> Turn``; this class does
    the rest the Gymnasium way:

    * ``reset(seed=, options=)``: ``options={"task": Task | dict}`` runs any task (curricula),
      ``options={"task_id": id}`` pins one from the source, otherwise one is drawn with the seeded ``np_random``.
    * ``step(action)`` returns the five-tuple. An action that is not text, is not valid UTF-8, or is longer than
      ``max_action_chars`` is answered with an observation saying what was expected (reward 0), never an
      exception. ``truncated`` is set when ``max_steps`` actions were taken without the episode ending.
    * ``render_mode="ansi"`` returns the episode transcript; ``close()`` gives the sandbox back.

    Sandboxes come from ``pool=`` (shared with other envs) or from a private pool of one, made on first use with
    ``image`` and ``limits``. ``info`` always has ``task_id``, ``family``, ``step`` and, on steps, ``malformed``.

    Envs pickle (``pickle``, ``copy.deepcopy`` of a wrapper stack, checkpoints) at any point. A restored env
    keeps its task source, ``np_random``, task, step count and transcript, but not its sandbox (a container
    cannot be copied): it takes a new one on its next ``reset``, from the same shared pool when unpickled in
    the process that holds it, else from a private pool with that pool's image and limits. An env pickled
    mid-episode must therefore be reset before it steps again (``step`` raises ``ResetNeeded`` until then).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    uses_sandbox: ClassVar[bool] = True
    # attributes of a subclass that hold live sandbox-side objects (a browser, a container handle): dropped
    # when pickling, like any attribute holding a Sandbox
    sandbox_bound: ClassVar[tuple[str, ...]] = ()

    def __init__(self, source: TaskSource, *, max_steps: int, pool: SandboxPool | None = None,
                 image: str | None = None, limits: Limits | None = None, render_mode: str | None = None,
                 max_action_chars: int = 64_000) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.source = source
        self.max_steps = max_steps
        self.max_action_chars = max_action_chars
        self.render_mode = render_mode
        self.observation_space = UnicodeText(MAX_TEXT_LENGTH)
        self.action_space = UnicodeText(MAX_TEXT_LENGTH)
        self._lease = SandboxLease(pool, image=image, limits=limits)
        self.task: Task | None = None
        self.steps = 0
        self.done = False
        self.transcript: list[tuple[str, str]] = []
        self._restored_mid_episode = False

    # --- what subclasses implement ---------------------------------------------------------------------------
    def _begin(self, task: Task) -> tuple[str, dict[str, Any]]:
        """Set the episode up for ``task`` (sandbox ready via ``self.sandbox``); return observation and info."""
        raise NotImplementedError

    def _act(self, action: str) -> Turn:
        """Play one well-formed action."""
        raise NotImplementedError

    # --- Gymnasium API -------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self.task = self._choose_task(options or {})
        self.steps = 0
        self.done = False
        self._restored_mid_episode = False
        if self.uses_sandbox:
            self._lease.renew()
        observation, info = self._begin(self.task)
        self.transcript = [("task", observation)]
        return self._clip(observation), {**self._base_info(), **info}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.done:
            raise gym.error.ResetNeeded("the episode has ended; call reset() before step()")
        if self._restored_mid_episode:
            raise gym.error.ResetNeeded("this env was unpickled mid-episode without its sandbox; call reset()")
        self.steps += 1
        text, problem = self._decode(action)
        if problem is not None:
            turn = Turn(problem, info={"malformed": True, "error": problem})
        else:
            turn = self._act(text)
            turn.info.setdefault("malformed", False)
        truncated = not turn.terminated and self.steps >= self.max_steps
        self.done = turn.terminated or truncated
        self.transcript += [("action", text if problem is None else repr(action)[:200]), ("observation", turn.observation)]
        info = {**self._base_info(), **turn.info}
        return self._clip(turn.observation), float(turn.reward), bool(turn.terminated), truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        header = f"== {self.task.family} / {self.task.id} ==" if self.task else "== no episode =="
        body = "\n".join(f"[{who}]\n{text}" for who, text in self.transcript)
        return f"{header}\n{body}\n"

    def close(self) -> None:
        self._lease.close()
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key, value in state.items():
            if key in self.sandbox_bound or isinstance(value, Sandbox):
                state[key] = None
        state["_restored_mid_episode"] = self.task is not None and not self.done
        return state

    # --- helpers for subclasses ----------------------------------------------------------------------------------
    @property
    def sandbox(self) -> Sandbox:
        """The episode's sandbox (a fresh one if it died)."""
        return self._lease.current()

    def _choose_task(self, options: Mapping[str, Any]) -> Task:
        unknown = set(options) - {"task", "task_id"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; expected 'task' or 'task_id'")
        if "task" in options:
            task = options["task"]
            return task if isinstance(task, Task) else Task.from_dict(task)
        if "task_id" in options:
            return self.source.get(options["task_id"])
        return self.source.sample(self.np_random)

    def _decode(self, action: Any) -> tuple[str, str | None]:
        """The action as text, or a message saying what was wrong with it."""
        if isinstance(action, (bytes, bytearray)):
            try:
                action = bytes(action).decode("utf-8")
            except UnicodeDecodeError:
                return "", "Your action was not valid UTF-8 text. Send plain text."
        if not isinstance(action, str):
            return "", f"Your action must be text (str), not {type(action).__name__}."
        try:
            action.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from bytes decoded with errors="surrogateescape"
            return "", "Your action is not valid Unicode text (it has unpaired surrogates). Send plain UTF-8 text."
        if "\x00" in action:
            return "", "Your action contains NUL characters. Send plain text."
        if len(action) > self.max_action_chars:
            return "", (f"Your action is {len(action):,} characters long; the limit is {self.max_action_chars:,}. "
                        "Send a shorter answer.")
        return action, None

    def _clip(self, text: str) -> str:
        return text if len(text) <= MAX_TEXT_LENGTH else text[: MAX_TEXT_LENGTH - 40] + "\n[... observation truncated]"

    def _base_info(self) -> dict[str, Any]:
        return {"task_id": self.task.id, "family": self.task.family, "step": self.steps}
