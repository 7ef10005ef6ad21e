"""``selfgym/Shell-v0``: an interactive bash session in a sandbox, judged by a check script (InterCode)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..params import AtLeastOne, Positive
from ..sandbox import ExecResult, Limits
from ..sandbox.checks import mark_agent_start
from .base import TextEnv, Turn
from .forks import EnvState, Kind
from .harbor import EnvironmentSetupError, HarborEpisode, HarborSpec, harbor_spec_of
from .harbor.spec import HarborStep
from .harbor.verifier import Verdict, scalar_reward
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
from .tools import ToolCall, ToolCallError, string, tool

if TYPE_CHECKING:  # Docker's SDK loads when a sandbox is first needed, not with the env
    from ..sandbox import Sandbox, SandboxPool

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
      after a submit (Harbor tasks add ``rewards`` and ``verifier_error``, and ``agent_timed_out`` when the task's
      time for the agent ran out); ``category`` at reset.
    * Tools: ``bash(command)`` (a command) and ``submit(answer)`` (``answer`` optional).

    Tasks come from ``tasks``: a :class:`TaskSource`, a YAML task file (see :mod:`selfgym.envs.shell.spec`),
    a Harbor or terminal-bench task directory or a folder of them (see :mod:`selfgym.envs.harbor`), or by
    default the shipped set (Harbor directories). ``reset(options={"task": {...}})`` runs any shell task, e.g.
    one a curriculum wrote.

    Harbor tasks are played as Harbor does: the task's environment (selfgym's sandbox for its own tasks, else
    the task's image, built, in a container of its own; ``base_images`` declares stand-ins for base images that
    cannot be pulled offline), its working directory, its time for the agent (when it runs out, the work is
    judged as it is) and its verifier (shared or separate mode, reward files; ``info["rewards"]`` has all of
    them, the reward is the one named ``reward``, else the only one, else their mean). A multi-step task
    (``[[steps]]``) is one episode: the first step's instruction at reset; each ``submit`` runs that step's
    verifier and, unless the step fell short of its ``min_reward`` (or its tests gave no reward, or the next step's
    setup failed), shows the next step's instruction (reward 0, ``info["step_rewards"]``); the last one ends the
    episode with the task's reward: the mean of the steps' rewards (per name, over the steps that gave one) or,
    with ``multi_step_reward_strategy = "final"``, the last step's, as Harbor scores a trial.
    """

    sandbox_bound = ("_harbor",)  # a Harbor episode holds containers of its own: a pickled env resets first
    TOOLS = (tool("bash", "Run one bash command line in the task's shell; its output and exit code come back. The "
                  "working directory and variables carry over between commands.",
                  {"command": string("The bash command line to run.")}),
             tool("submit", "Finish the task and have the work checked; give the answer if the task asks for one.",
                  optional={"answer": string("The answer, if the task asks for one.")}))

    def __init__(self, tasks: TaskSource | str | Path | None = None, *, max_steps: AtLeastOne = 20,
                 command_timeout_s: Positive | None = None, check_timeout_s: Positive = 30.0,
                 max_output_chars: AtLeastOne = 8_000, pool: SandboxPool | None = None, image: str | None = None,
                 limits: Limits | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 max_action_chars: AtLeastOne = 16_000, base_images: Mapping[str, str] | None = None) -> None:
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
        self.limits = Limits.of(limits)  # for tasks' own containers
        self.base_images = dict(base_images or {})
        self._spec: ShellTaskSpec | None = None
        self._harbor: HarborEpisode | None = None
        self._time_left: float | None = None
        self._step = 0  # the step of a multi-step Harbor task being played
        self._step_verdicts: list[tuple[HarborStep, Verdict]] = []

    @classmethod
    def read_task_file(cls, path: str | Path) -> TaskSource:
        """A YAML task file, or a Harbor / terminal-bench task directory or a folder of them."""
        return TaskList(load_task_file(path), FAMILY)

    @classmethod
    def reference_actions(cls, task: Task) -> list[str]:
        """The task's scripted solution: its commands, then its submit."""
        solution = task.data.get("solution")
        if not isinstance(solution, (list, tuple)) or not (task.data.get("check") or task.data.get("harbor")):
            return super().reference_actions(task)
        return [str(action) for action in solution]

    @property
    def uses_sandbox(self) -> bool:  # type: ignore[override]
        """Whether reset takes a pooled sandbox: not for Harbor tasks that bring an image (they get their own)."""
        spec = harbor_spec_of(self.task) if self.task is not None else None
        return spec is None or spec.environment == "sandbox"

    def tool_action(self, call: ToolCall) -> str:
        if call.name == "submit":
            answer = str(call.arguments.get("answer", "")).strip()
            return f"submit {answer}" if answer else "submit"
        command = call.arguments["command"]
        if parse_submit(command) is not None:  # as text it would end the episode: say so rather than guess
            raise ToolCallError("bash does not run `submit`: call the submit tool to finish the task.")
        return command

    def _begin(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._end_harbor_episode()
        harbor = harbor_spec_of(task)
        if harbor is not None:
            return self._begin_harbor(task, harbor)
        self._spec = spec_of(task)
        self._set_up(self.sandbox)
        return self._introduction(task, keep_background=self._spec.keep_background), {"category": self._spec.category}

    def _act(self, action: str) -> Turn:
        if not action.strip():
            return Turn(EMPTY_ACTION, info={"malformed": True, "error": EMPTY_ACTION})
        if self._harbor is not None:
            return self._act_harbor(action)
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
        mark_agent_start(sandbox, keep_background=self._spec.keep_background)

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

    # --- forks (see selfgym.envs.forks) ----------------------------------------------------------------------------
    # The shell's state (working directory, variables, functions) lives in files of the sandbox, so a snapshot of its
    # files is the whole episode (Harbor tasks in selfgym's sandbox too: their setup's results are files), except
    # processes: tasks that keep background processes or wait for services (a healthcheck), and Harbor tasks in
    # containers of their own, are rebuilt by replaying the actions (the processes the actions started run again).
    fork_fields = ("_spec", "_time_left", "_step", "_step_verdicts")

    def _save_episode(self) -> tuple[Kind, Any, list[str]]:
        if self._harbor is not None:
            spec = self._harbor.spec
            if spec.environment != "sandbox":
                return "replay", None, ["a task with its own image: its environment is set up again and the actions "
                                        "replayed"]
            if spec.keep_background or spec.healthcheck is not None:
                return "replay", None, ["processes (services or background jobs): the actions are replayed"]
        elif self._spec is not None and self._spec.keep_background:
            return "replay", None, ["background processes: the actions are replayed to start them again"]
        return super()._save_episode()

    def _load_episode(self, state: EnvState) -> None:
        if state.kind == "replay":
            return super()._load_episode(state)
        self._end_harbor_episode()
        super()._load_episode(state)
        harbor = harbor_spec_of(self.task)
        if harbor is not None:  # in selfgym's sandbox, whose files were just put back: no setup to run again
            self._harbor = HarborEpisode(self.task, harbor, self, limits=self.limits, base_images=self.base_images)
            self._harbor.sandbox = self.sandbox

    # --- Harbor tasks ------------------------------------------------------------------------------------------

    def _begin_harbor(self, task: Task, spec: HarborSpec) -> tuple[str, dict[str, Any]]:
        self._spec = None
        self._harbor = HarborEpisode(task, spec, self, limits=self.limits, base_images=self.base_images)
        sandbox = self._harbor.start()
        self._time_left = spec.agent_timeout_s
        self._step, self._step_verdicts = 0, []
        info: dict[str, Any] = {"category": task.data.get("category", "terminal")}
        if spec.steps:
            self._harbor.begin_step(spec.steps[0])
            self._time_left = spec.steps[0].agent_timeout_s
            info["step"] = spec.steps[0].name
        introduction = self._introduction(task, keep_background=spec.keep_background, start_dir=self._harbor.start_dir,
                                          answer_file=spec.answer_file, network=sandbox.limits.network,
                                          steps=len(spec.steps))
        return introduction, info

    def _act_harbor(self, action: str) -> Turn:
        episode = self._harbor
        sandbox = episode.current()
        answer = parse_submit(action)
        if answer is not None:
            return self._judge_harbor(answer)
        timeout = self.command_timeout_s if self.command_timeout_s is not None else sandbox.limits.timeout_s
        if self._time_left is not None:
            timeout = min(timeout, self._time_left)
        result = run_action(sandbox, action, timeout_s=timeout, keep_background=episode.spec.keep_background,
                            cwd=episode.start_dir, env=episode.env)
        observation = describe(result, max_chars=self.max_output_chars)
        info = {"exit_code": result.exit_code, "timed_out": result.timed_out}
        if self._time_left is not None:
            self._time_left -= max(result.duration_s, 0.0)
            if self._time_left <= 0:  # Harbor stops the agent at its timeout and verifies what it left
                turn = self._judge_harbor("", observation + "\n[the task's time for the agent is up]\n")
                turn.info.update(info, agent_timed_out=True)
                return turn
        return Turn(observation, info=info)

    def _judge_harbor(self, answer: str, note: str = "") -> Turn:
        episode = self._harbor
        if answer and episode.spec.answer_file is not None:
            episode.write_answer(answer)
        if episode.spec.steps:
            return self._judge_step(answer, note)
        verdict, notes = episode.judge()
        info = {"passed": verdict.reward >= 1.0, "answer": answer, "rewards": verdict.rewards,
                "verifier_error": verdict.error, "check_output": self._check_output(verdict, notes)}
        return Turn(f"{note}Submitted. The task's check {_summary(verdict)}.", reward=verdict.reward,
                    terminated=True, info=info)

    def _check_output(self, verdict: Verdict, notes: list[str]) -> str:
        error = [f"[verifier error: {verdict.error}]"] if verdict.error else []
        output = "\n".join([*notes, verdict.output, *error])
        return clip_middle(output, self.max_output_chars)

    def _judge_step(self, answer: str, note: str) -> Turn:
        """A step of a multi-step task submitted: its verdict, then the next step, or the task's reward."""
        episode, steps = self._harbor, self._harbor.spec.steps
        step = steps[self._step]
        verdict, notes = episode.judge(episode.spec.for_step(step))
        self._step_verdicts.append((step, verdict))
        said = f"{note}Submitted step {self._step + 1} of {len(steps)} ({step.name}): its check {_summary(verdict)}."
        info: dict[str, Any] = {"answer": answer, "step": step.name, "step_rewards": verdict.rewards,
                                "verifier_error": verdict.error, "check_output": self._check_output(verdict, notes)}
        stop = None
        if verdict.error is not None:
            stop = "its tests gave no reward"
        elif not step.passes(verdict.rewards):
            stop = f"it fell short of its min_reward {step.min_reward}"
        elif self._step + 1 < len(steps):
            following = steps[self._step + 1]
            try:
                episode.begin_step(following)
            except EnvironmentSetupError as exc:
                stop = f"the setup of step {following.name!r} failed: {exc}"
            else:
                self._step += 1
                self._time_left = following.agent_timeout_s
                return Turn(f"{said}\n\nStep {self._step + 1} of {len(steps)}: {following.instruction}", info=info)
        rewards, error = task_rewards(self._step_verdicts, episode.spec.reward_strategy)
        reward = scalar_reward(rewards) if rewards else 0.0
        info.update(passed=reward >= 1.0, rewards=rewards, steps_run=len(self._step_verdicts),
                    task_error=error, stopped=stop if self._step + 1 < len(steps) else None)
        ending = f" The remaining steps do not run: {stop}." if stop and self._step + 1 < len(steps) else ""
        return Turn(f"{said}{ending} The task's reward: {reward:g}.", reward=reward, terminated=True, info=info)

    def _end_harbor_episode(self) -> None:
        if self._harbor is not None:
            episode, self._harbor = self._harbor, None
            episode.close()

    def close(self) -> None:
        self._end_harbor_episode()
        super().close()

    def _introduction(self, task: Task, *, keep_background: bool, start_dir: str = "/work",
                      answer_file: str | None = None, network: bool = False, steps: int = 0) -> str:
        background = ("Processes you start in the background keep running between commands."
                      if keep_background else
                      "Background processes are stopped when the command that started them ends.")
        where = f"in {start_dir}" + ("" if network else " (no network)")
        if answer_file is not None:
            done = (f"send `submit` (or `submit <answer>`, which writes the answer to {answer_file} for you); "
                    "your work is then checked.")
        else:
            done = "send `submit` (or `submit <answer>` if the task asks for an answer); your work is then checked."
        if steps > 1:
            done = done.replace("your work is then checked.", f"your work is then checked. The task has {steps} "
                                "steps: this is step 1, and after each submit the next step's instruction follows.")
        return (f"{task.prompt}\n\n"
                f"You are in a bash shell, {where}. Send one command per turn; you will see its "
                "output and exit code. The working directory, variables and functions carry over between "
                f"commands. {background} When you are done, {done}")


def _summary(verdict: Verdict) -> str:
    """How a verdict reads in the observation."""
    if verdict.error:
        return f"gave no reward ({verdict.error}): reward 0"
    if verdict.reward in (0.0, 1.0):
        return "passed (reward 1)" if verdict.reward else "failed (reward 0)"
    return f"gave reward {verdict.reward:g}"


def task_rewards(verdicts: list[tuple[HarborStep, Verdict]], strategy: str) -> tuple[dict[str, float], str | None]:
    """A multi-step task's rewards from its steps' verdicts, as Harbor scores a trial: ``mean``, per name over the
    steps whose tests gave a reward (a name a step lacks counts 0 there); ``final``, the last step's. The second
    value says why there is none, if there is none."""
    if strategy == "final":
        last = verdicts[-1][1] if verdicts else None
        if last is None or last.error is not None:
            return {}, "the last step's tests gave no reward"
        return dict(last.rewards), None
    valid = [verdict.rewards for _, verdict in verdicts if verdict.error is None]
    names = {name for rewards in valid for name in rewards}
    if not names:
        return {}, "no step's tests gave a reward"
    return {name: sum(rewards.get(name, 0.0) for rewards in valid) / len(valid) for name in sorted(names)}, None
