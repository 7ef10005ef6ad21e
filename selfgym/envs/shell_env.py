"""``selfgym/Shell-v0``: an interactive bash session in a sandbox, judged by a check script (InterCode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..sandbox import ExecResult, Limits, Sandbox, SandboxPool
from .base import TextEnv, Turn
from .shell import (
    FAMILY,
    ShellTaskSpec,
    clip_middle,
    describe,
    load_task_file,
    parse_submit,
    run_action,
    shipped_tasks,
    spec_of,
)
from .sources import TaskList
from .task import Task, TaskSource

SETUP_TIMEOUT_S = 60.0
EMPTY_ACTION = ("Your action was empty. Send one bash command to run (e.g. `ls -la`), or `submit` when the "
                "task is done (`submit <answer>` if the task asks for an answer).")


class ShellEnv(TextEnv):
    """Drive a bash shell in a sandbox container that the task set up; ``submit`` to have it checked.

    * Observation at reset: the task's prompt and how to play. After each command: its output (stdout and
      stderr interleaved, cut to ``max_output_chars``) and ``[exit code N]``, or a note that it timed out
      after ``command_timeout_s`` (the episode goes on).
    * Action: one bash command line (several lines are fine). The working directory, exported and shell
      variables and functions carry over between commands; background jobs are killed when a command ends,
      except in tasks marked ``keep_background`` (see :mod:`selfgym.envs.shell.session`).
    * ``submit`` (or ``submit <answer>`` for tasks that ask for one) runs the task's check script against
      the container's final state: reward 1 if it exits 0, else 0, and the episode terminates. Other steps
      give 0; after ``max_steps`` actions without a submit the episode is truncated.
    * ``info``: ``exit_code`` and ``timed_out`` after a command; ``passed``, ``answer`` and ``check_output``
      after a submit; ``category`` at reset.

    Tasks come from ``tasks``: a :class:`TaskSource`, a YAML task file (see :mod:`selfgym.envs.shell.spec`),
    or by default the shipped set. ``reset(options={"task": {...}})`` runs any shell task, e.g. one a
    curriculum wrote.
    """

    def __init__(self, tasks: TaskSource | str | Path | None = None, *, max_steps: int = 20,
                 command_timeout_s: float | None = None, check_timeout_s: float = 30.0,
                 max_output_chars: int = 8_000, pool: SandboxPool | None = None, image: str | None = None,
                 limits: Limits | None = None, render_mode: str | None = None,
                 max_action_chars: int = 16_000) -> None:
        if tasks is None:
            source: TaskSource = shipped_tasks()
        elif isinstance(tasks, (str, Path)):
            source = TaskList(load_task_file(tasks), FAMILY)
        else:
            source = tasks
        # the action reaches bash through one environment variable, which Linux caps at 128 KiB: 32,000
        # characters fit however many UTF-8 bytes each takes
        if max_action_chars > 32_000:
            raise ValueError(f"max_action_chars must be at most 32,000 for bash, got {max_action_chars}")
        super().__init__(source, max_steps=max_steps, pool=pool, image=image, limits=limits,
                         render_mode=render_mode, max_action_chars=max_action_chars)
        self.command_timeout_s = command_timeout_s
        self.check_timeout_s = check_timeout_s
        self.max_output_chars = max_output_chars
        self._spec: ShellTaskSpec | None = None

    def _begin(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._spec = spec_of(task)
        self._set_up(self.sandbox)
        return self._introduction(task), {"category": self._spec.category}

    def _act(self, action: str) -> Turn:
        if not action.strip():
            return Turn(EMPTY_ACTION, info={"malformed": True, "error": EMPTY_ACTION})
        sandbox = self.sandbox
        answer = parse_submit(action)
        if answer is not None:
            return self._judge(sandbox, answer)
        result = run_action(sandbox, action, timeout_s=self.command_timeout_s,
                            keep_background=self._spec.keep_background)
        observation = describe(result, max_chars=self.max_output_chars)
        return Turn(observation, info={"exit_code": result.exit_code, "timed_out": result.timed_out})

    def _set_up(self, sandbox: Sandbox) -> None:
        if self._spec.setup.strip():
            result = self._script(sandbox, self._spec.setup, SETUP_TIMEOUT_S)
            if not result.ok:
                ending = "timed out" if result.timed_out else f"exit code {result.exit_code}"
                output = clip_middle(result.stdout + result.stderr, 2000)
                raise ValueError(f"the setup of shell task {self.task.id!r} failed ({ending}):\n{output}")

    def _judge(self, sandbox: Sandbox, answer: str) -> Turn:
        # Under the verifier's uid, out of reach of the agent's processes (still running in tasks that keep them).
        result = sandbox.run_check(self._spec.check, env={"SELFGYM_ANSWER": answer}, timeout_s=self.check_timeout_s)
        passed = result.ok
        check_output = clip_middle(result.stdout + result.stderr, self.max_output_chars)
        if result.timed_out:
            check_output += f"\n[the check timed out after {self.check_timeout_s:g} s]"
        verdict = "passed (reward 1)" if passed else "failed (reward 0)"
        info = {"passed": passed, "answer": answer, "check_output": check_output}
        observation = f"Submitted. The task's check {verdict}."
        return Turn(observation, reward=float(passed), terminated=True, info=info)

    def _script(self, sandbox: Sandbox, script: str, timeout_s: float) -> ExecResult:
        """Run a task's setup: bash with errexit, in /work, as the agent (its files are the agent's to change)."""
        return sandbox.run(["/bin/bash", "-e", "-c", script], timeout_s=timeout_s,
                           keep_background=self._spec.keep_background)

    def _introduction(self, task: Task) -> str:
        background = ("Processes you start in the background keep running between commands."
                      if self._spec.keep_background else
                      "Background processes are stopped when the command that started them ends.")
        return (f"{task.prompt}\n\n"
                "You are in a bash shell, in /work (no network). Send one command per turn; you will see its "
                "output and exit code. The working directory, variables and functions carry over between "
                f"commands. {background} When you are done, send `submit` (or `submit <answer>` if the task "
                "asks for an answer); your work is then checked.")
