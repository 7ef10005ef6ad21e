"""The base class of selfgym's text environments: task selection, step budget, malformed actions, transcript."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym

from ..sandbox.errors import InfrastructureError, SandboxError, SandboxLostError
from ..sandbox.limits import Limits
from ..sandbox.spec import SandboxSpec
from .forks import EnvState, Kind
from .lease import SandboxLease
from .spaces import MAX_TEXT_LENGTH, UnicodeText
from .task import Task, TaskSource
from .tools import Tool, ToolCall, ToolCallError, check_call, is_tool_call

if TYPE_CHECKING:
    from ..sandbox import Sandbox, SandboxPool


def renamed(old: str, new: str, old_value: Any, new_value: Any) -> Any:
    """An argument's value under its new name, taking (with a DeprecationWarning) the value passed under its old
    one. The old names stay for one release (0.2): every env says ``tasks=`` and ``max_steps=``."""
    if old_value is None:
        return new_value
    warnings.warn(f"{old}= is deprecated and will be removed in selfgym 0.3; use {new}=", DeprecationWarning,
                  stacklevel=3)
    return old_value


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
    * Tool calls: ``step`` also takes an OpenAI-style tool call of one of :meth:`available_tools` (see
      :mod:`selfgym.envs.tools`); the env plays the text action it stands for (:meth:`tool_action`). A call it
      cannot read is answered like malformed text.

    Each env class declares the sandbox it runs in (``sandbox_spec``: an image by name and default limits); its
    sandboxes come from ``pool=`` (shared with other envs; :func:`selfgym.envs.pool_for` makes one from the
    declaration) or from a private pool of one, made on first use from the declaration, with ``image`` (a tag)
    and ``limits`` (a :class:`~selfgym.sandbox.Limits` or a dict of its fields) overriding it. Subclasses use
    the episode's sandbox through :attr:`sandbox`, :meth:`release_sandbox` and :meth:`renew_sandbox`. ``info`` always has ``task_id``, ``family``, ``step`` and, on steps, ``malformed``
    and ``infra_retries``.

    A sandbox lost for a reason outside the agent (:class:`~selfgym.sandbox.SandboxLostError`: the engine or the
    host failed, the container was removed) is never the agent's failure: the env takes a fresh sandbox, sets the
    task up again, replays the episode's earlier actions (``replays_history``; their results are discarded) and
    plays the action again, up to ``infra_retries`` times; ``info["infra_retries"]`` counts them and
    :attr:`infra_events` lists them for the episode. When the retries run out, ``reset``/``step`` raise
    :class:`~selfgym.sandbox.InfrastructureError`: the episode is an error, to be reported apart from successes
    and failures. What the agent causes (a timeout, running out of memory, the pids limit) is the action's result
    and is never retried.

    Forks (:mod:`selfgym.envs.forks`): ``clone_state()`` saves the point an episode has reached (an
    :class:`~selfgym.envs.forks.EnvState`: the conversation, the env's own state and its sandbox's part),
    ``restore_state(state)`` puts it back (into this env or another of the class), and ``fork()`` returns a new,
    independent env in the same state, its sandbox from the same pool. Subclasses say what of the sandbox to keep
    (``fork_fields``, ``_save_episode``, ``_load_episode``); by default its files, else the actions are replayed.

    Envs pickle (``pickle``, ``copy.deepcopy`` of a wrapper stack, checkpoints) at any point. A restored env
    keeps its task source, ``np_random``, task, step count and transcript, but not its sandbox (a container
    cannot be copied): it takes a new one on its next ``reset``, from the same shared pool when unpickled in
    the process that holds it, else from a private pool with that pool's image and limits. An env pickled
    mid-episode must therefore be reset before it steps again (``step`` raises ``ResetNeeded`` until then).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    sandbox_spec: ClassVar[SandboxSpec] = SandboxSpec()
    uses_sandbox: ClassVar[bool] = True
    # how long fork() waits for a sandbox of the pool: the parent and its other forks may hold them all, and a wait
    # in the thread that holds them would never end
    fork_sandbox_wait_s: ClassVar[float] = 60.0
    replays_history: ClassVar[bool] = True  # False where each action stands alone (a Code-v0 attempt)
    infra_retries: int = 2
    # attributes of a subclass that hold live sandbox-side objects (a browser, a container handle): dropped
    # when pickling, like any attribute holding a Sandbox
    sandbox_bound: ClassVar[tuple[str, ...]] = ()
    TOOLS: ClassVar[tuple[Tool, ...]] = ()  # every tool the env class can offer (available_tools: this env's)

    def __init__(self, source: TaskSource, *, max_steps: int, pool: SandboxPool | None = None,
                 image: str | None = None, limits: Limits | Mapping[str, Any] | None = None,
                 render_mode: str | None = None, max_action_chars: int = 64_000) -> None:
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
        self._lease = SandboxLease(pool, image=image, limits=Limits.of(limits) or self.sandbox_spec.limits,
                                   image_name=self.sandbox_spec.image)
        self.task: Task | None = None
        self.steps = 0
        self.done = False
        self.transcript: list[tuple[str, str]] = []
        self.infra_events: list[dict[str, Any]] = []
        self._history: list[str] = []
        self._replay = False  # True while an episode is replayed on a fresh sandbox (see _replay_episode)
        self._restored_mid_episode = False

    # --- what an env knows of its tasks: evaluation suites and the scripted oracle ask the env class ----------
    @classmethod
    def read_task_file(cls, path: str | Path) -> TaskSource:
        """The tasks of a task file in this env's format (a suite's ``file:``)."""
        raise ValueError(f"{cls.__name__} reads no task files; pass the env's own task option in env_kwargs instead")

    @classmethod
    def reference_actions(cls, task: Task) -> list[str]:
        """The actions that solve ``task`` by its own reference solution; ``ValueError`` if it carries none."""
        raise ValueError(f"task {task.id!r} has no reference solution {cls.__name__} can play")

    @classmethod
    def reference_reply(cls, task: Task, observations: Sequence[str]) -> str:
        """The reference's action after ``observations`` (the first is the task's): its actions in order, the
        last one repeated. Envs whose reference reacts to what it sees (a web page) override this."""
        actions = cls.reference_actions(task)
        return actions[min(max(len(observations) - 1, 0), len(actions) - 1)]

    @classmethod
    def canonical_reply(cls, task: Task, info: Mapping[str, Any]) -> str | None:
        """The reply in the form the env asks for, to a step that ``info`` says was right (None: no such form).
        Self-training can learn a verified answer this way rather than as the model happened to phrase it."""
        return None

    @classmethod
    def task_signature(cls, task: Task) -> str:
        """Text of ``task`` that the env's first observation contains: how a policy that sees only the
        conversation (the scripted oracle) recognises which task it is playing."""
        return task.prompt.strip()

    # --- tools -----------------------------------------------------------------------------------------------
    def available_tools(self) -> tuple[Tool, ...]:
        """The tools an agent may call in this env (its class's ``TOOLS``, less those its settings turn off)."""
        return self.TOOLS

    def tool_schemas(self) -> list[dict[str, Any]]:
        """:meth:`available_tools` in the OpenAI form (``tools=`` of the OpenAI API, chat templates and TRL)."""
        return [t.openai() for t in self.available_tools()]

    def tool_action(self, call: ToolCall) -> str:
        """The text action a tool call (checked against its schema) stands for; :class:`ToolCallError` if none."""
        raise ToolCallError(f"{type(self).__name__} has no tool {call.name!r}.")

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
        self.infra_events = []
        self._history = []
        if self.uses_sandbox:
            self.renew_sandbox()
        observation, info = self._replaying(lambda: self._begin(self.task), recover=self._set_up_again)
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
        retries_before = len(self.infra_events)
        if problem is not None:
            turn = Turn(problem, info={"malformed": True, "error": problem})
        else:
            turn = self._replaying(lambda: self._act(text), recover=self._replay_episode)
            turn.info.setdefault("malformed", False)
            self._history.append(text)
        turn.info["infra_retries"] = len(self.infra_events) - retries_before
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
        from ..sandbox import Sandbox

        state = self.__dict__.copy()
        for key, value in state.items():
            if key in self.sandbox_bound or isinstance(value, Sandbox):
                state[key] = None
        state["_restored_mid_episode"] = self.task is not None and not self.done
        return state

    # --- forks: save, restore and branch an episode (see selfgym.envs.forks) -------------------------------------
    # the env's own attributes that make up its episode's state (copied into a saved state and back)
    fork_fields: ClassVar[tuple[str, ...]] = ()

    def clone_state(self) -> EnvState:
        """The point this episode has reached, to :meth:`restore_state` here or in another env of this class and
        settings (Gymnasium's ALE names). The env goes on unchanged; ``ResetNeeded`` before the first reset or
        when it was unpickled mid-episode (its sandbox, and so its state, is gone)."""
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before clone_state(): there is no episode to save")
        if self._restored_mid_episode:
            raise gym.error.ResetNeeded("this env was unpickled mid-episode without its sandbox; its state is lost")
        kind, saved, notes = self._save_episode()
        return EnvState(env_class=_qualified(type(self)), task=self.task, steps=self.steps, done=self.done,
                        transcript=tuple(self.transcript), history=tuple(self._history),
                        infra_events=tuple(dict(e) for e in self.infra_events),
                        rng=copy.deepcopy((self._np_random, self._np_random_seed)),
                        fields={name: copy.deepcopy(getattr(self, name)) for name in self.fork_fields},
                        kind=kind, sandbox=saved, notes=tuple(notes))

    def restore_state(self, state: EnvState) -> None:
        """Put this env at the point ``state`` saved (of this env or another of its class): the next ``step``
        plays on from there as it did there. Under wrappers use :func:`selfgym.envs.forks.restore_into`."""
        if not isinstance(state, EnvState):
            raise TypeError(f"restore_state takes an EnvState from clone_state(), not {type(state).__name__}")
        if state.env_class != _qualified(type(self)):
            raise ValueError(f"this state was saved by {state.env_class}; it cannot be restored into a "
                             f"{_qualified(type(self))}")
        self.task, self.steps, self.done = state.task, state.steps, state.done
        self.transcript, self._history = list(state.transcript), list(state.history)
        self.infra_events = [dict(e) for e in state.infra_events]
        self._np_random, self._np_random_seed = copy.deepcopy(state.rng)
        self._restored_mid_episode = False
        for name, value in state.fields.items():
            setattr(self, name, copy.deepcopy(value))
        self._replaying(lambda: self._load_episode(state), recover=lambda: None)
        for name, value in state.fields.items():  # a replay may have moved them (a Harbor task's clock)
            setattr(self, name, copy.deepcopy(value))

    def fork(self) -> TextEnv:
        """A new env of this class and settings in this episode's state, independent of this one from now on (its
        sandbox comes from the same pool: share one so that forks do not start containers of their own). The
        caller closes it. Unwrapped: wrap it as this env was, if wanted."""
        state = self.clone_state()
        child = copy.deepcopy(self, {id(self.source): self.source})  # the copy holds no sandbox (see __getstate__)
        child._lease.acquire_timeout_s = self.fork_sandbox_wait_s
        try:
            child.restore_state(state)
        except TimeoutError as exc:
            child.close()
            raise TimeoutError(f"fork: no sandbox of the pool became free within {self.fork_sandbox_wait_s:g} s "
                               f"(this env, its forks and the pool's other users hold them all): close forks no "
                               f"longer needed, or share a larger pool ({exc})") from None
        except BaseException:
            child.close()
            raise
        return child

    def _save_episode(self) -> tuple[Kind, Any, list[str]]:
        """(how, the saved sandbox part, what is not kept) for :meth:`clone_state`. By default the sandbox's
        files when the env holds one, replayed from the actions when they cannot be taken (too large)."""
        held = self._lease.sandbox
        if held is None:
            return "none", None, []
        try:
            return "files", held.snapshot(), []
        except SandboxLostError:
            raise
        except SandboxError:  # more files than a snapshot takes: rebuilt from the actions instead
            return "replay", None, ["the files were too large to save; the actions are replayed"]

    def _load_episode(self, state: EnvState) -> None:
        """The sandbox in the state ``state`` saved (called by :meth:`restore_state` after the fields are set)."""
        if state.kind == "replay":
            self._replay_episode()
        elif state.kind == "files":
            self.renew_sandbox().restore(state.sandbox)
        else:
            self.release_sandbox()  # the next use takes a fresh one

    # --- sandboxes lost under the agent -------------------------------------------------------------------------
    def _replaying(self, play, *, recover):
        """``play()``; when its sandbox is lost, ``recover()`` on a fresh one and play again (bounded)."""
        while True:
            try:
                return play()
            except SandboxLostError as exc:
                self.infra_events.append({"step": self.steps, "error": str(exc)})
                self.release_sandbox()  # the pool replaces the dead container
                if sum(event["step"] == self.steps for event in self.infra_events) > self.infra_retries:
                    raise InfrastructureError(
                        f"Episode of task {self.task.id!r} lost its sandbox {self.infra_retries + 1} times at step "
                        f"{self.steps} (last: {exc}); this is no failure of the agent's.") from exc
                try:
                    recover()
                except SandboxLostError:
                    continue  # lost again while recovering: counted on the next round

    def _set_up_again(self) -> None:
        if self.uses_sandbox:
            self.renew_sandbox()

    def _replay_episode(self) -> None:
        """A fresh sandbox in the state the episode had reached before the current action."""
        self._set_up_again()
        self._replay = True
        try:
            self._begin(self.task)
            if self.replays_history:
                for past in self._history:
                    self._act(past)
        finally:
            self._replay = False

    # --- helpers for subclasses ----------------------------------------------------------------------------------
    @property
    def sandbox(self) -> Sandbox:
        """The episode's sandbox, acquired on first use; ``SandboxLostError`` if it died under the episode."""
        return self._lease.current()

    @property
    def may_use_sandbox(self) -> bool:
        """Whether an episode may take a sandbox (at reset, or later when an action needs one): what a server that
        shares one pool between many envs queues sessions for. Envs that never touch one say False."""
        return True

    def release_sandbox(self) -> None:
        """Give the episode's sandbox back (the pool resets it); the next use of :attr:`sandbox` takes one."""
        self._lease.release()

    def renew_sandbox(self) -> Sandbox:
        """Give the sandbox back and take a clean one."""
        return self._lease.renew()

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
        if is_tool_call(action):
            try:
                call = ToolCall.parse(action)
                check_call(call, self.available_tools())
                action = self.tool_action(call)
            except ToolCallError as exc:
                return "", f"Your tool call could not be played: {exc}"
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


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
