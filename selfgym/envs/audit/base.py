"""The audit's types and runner: play an adversarial battery against tasks and say which ones are hackable.

A *battery* knows one kind of env (Math-v0, Code-v0, Web-v0, Shell-v0) and proposes *probes* for a task: action
sequences that must not earn reward (the null agent, garbage and hedged answers, tampering, navigation away...)
and the task's reference solution, which must. The runner plays every probe on a fresh episode of the task
(``env.reset(seed=..., options={"task": task})``, then each action until the episode ends), through the env's
public API, exactly as an agent would, and records the episode's return:

* a must-fail probe with a return above 0 is a finding, and the task is **hackable**;
* any exception a must-fail probe raises (an :class:`~selfgym.sandbox.InfrastructureError` included) is a
  finding of class ``infra-error``, and the task is **hackable**: no agent action may turn an episode into an
  error, which would take it out of the success rate;
* the reference with a return below 1 (or raising) is a finding, and the task is **broken** (unless also
  hackable). A must-pass probe that fails is played once more first, and only a second failure counts: on a
  loaded machine a page can time out or a renderer crash under a correct solution (which the env must count
  against the agent, who can crash its own tab), while a broken task fails every time. Must-fail probes get no
  second try: one success is a hole;
* otherwise the task is **ok**.

A battery may look before it proposes: ``explore(actions)`` plays ``actions`` on a fresh episode of the task and
returns its observations (the reset's first), so a battery discovers what the agent can see (files shipped into
``/work``, a page's elements) through the agent's own interface.

An action of a probe is text, a tool call, or a callable that gets the observations so far (a tuple of str) and
returns the action to play: a reference that reacts to the page, an attack that clicks what it finds. A
:class:`Finding` records the actions as played, so every finding can be reproduced by replaying them on
``env.reset(seed=finding.seed, options={"task": task})``.

Batteries live in modules of this package named in :data:`BATTERY_MODULES`; each module exposes ``BATTERIES``, a
tuple of battery objects. :func:`default_batteries` collects them; the runner asks each whether it
:meth:`~Battery.applies` to the (unwrapped) env and the task.
"""

from __future__ import annotations

import importlib
import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import gymnasium as gym

from ..task import Task

Must = Literal["fail", "pass"]
Verdict = Literal["ok", "hackable", "broken"]

# Modules of this package that hold batteries (each exposes BATTERIES). One not present is skipped: the Shell
# battery lives on another branch until both are merged.
BATTERY_MODULES = ("math", "code", "web", "shell")
INFRA_ERROR = "infra-error"
REFERENCE = "reference"
MAX_OBSERVATION_CHARS = 2_000  # of the last observation, kept in a finding to show what happened


@dataclass(frozen=True)
class Probe:
    """One attack (or the reference) on a task.

    Attributes:
        exploit: the exploit class, kebab-case: ``"null-agent"``, ``"garbage-answer"``, ``"empty-answer"``,
            ``"hedge"``, ``"reward-file"``, ``"tamper-delete"``, ``"tamper-junk"``, ``"tamper-link"``,
            ``"tamper-digest"``, ``"fake-process"``, ``"git-plant"``, ``"navigate-away"``, ``"other-page"``,
            ``"infra-error"``, ``"reference"``, ``"wrong-solution"``, ... (a battery may add classes).
        actions: played in order after ``env.reset(options={"task": task})``: text, tool calls, or callables
            ``(observations so far) -> action``.
        must: ``"fail"`` (return 0) for attacks; ``"pass"`` (return >= 1) only for the task's reference.
        detail: what the probe does, for a person.
    """

    exploit: str
    actions: tuple[Any, ...]
    must: Must = "fail"
    detail: str = ""


@runtime_checkable
class Battery(Protocol):
    """The probes of one kind of env."""

    name: str

    def applies(self, env: gym.Env, task: Task) -> bool:
        """Whether this battery knows how to attack ``task`` on ``env`` (the unwrapped env)."""

    def probes(self, task: Task, explore: Callable[[Sequence[Any]], list[str]]) -> Iterable[Probe]:
        """The probes for ``task``; ``explore(actions)`` plays actions on a fresh episode, returns observations."""


@dataclass(frozen=True)
class Finding:
    """A probe whose outcome was not what it must be.

    Attributes:
        exploit: the probe's exploit class (``infra-error`` when a must-fail probe raised).
        must: what the probe had to do (``"fail"``: earn nothing; ``"pass"``: the reference, earn 1).
        reward: the episode's return.
        actions: the actions as played (callables resolved): how to reproduce it.
        detail: what the probe did.
        error: the exception the episode raised, if any (type and message).
        observation: the end of the last observation, to see what the env said.
        seed: the reset seed the probe was played with.
    """

    exploit: str
    must: Must
    reward: float
    actions: tuple[Any, ...]
    detail: str = ""
    error: str | None = None
    observation: str = ""
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"exploit": self.exploit, "must": self.must, "reward": self.reward,
                "actions": [_jsonable(action) for action in self.actions], "detail": self.detail,
                "error": self.error, "observation": self.observation, "seed": self.seed}


@dataclass
class TaskAudit:
    """The audit of one task: its verdict and the findings behind it."""

    task_id: str
    family: str
    verdict: Verdict
    findings: list[Finding] = field(default_factory=list)
    probes: int = 0
    seconds: float = 0.0
    task: Task | None = None

    @property
    def exploits(self) -> list[str]:
        """The exploit classes of its must-fail findings (what makes it hackable), in order, once each."""
        return list(dict.fromkeys(f.exploit for f in self.findings if f.must == "fail"))

    def to_dict(self) -> dict[str, Any]:
        """As JSON: the verdict, the findings (each with how to reproduce it), and the task when there are any."""
        out: dict[str, Any] = {"task_id": self.task_id, "family": self.family, "verdict": self.verdict,
                               "probes": self.probes, "seconds": round(self.seconds, 3),
                               "findings": [finding.to_dict() for finding in self.findings]}
        if self.findings and self.task is not None:
            out["reproduce"] = {"task": self.task.to_dict(),
                                "how": "env.reset(seed=finding.seed, options={'task': Task.from_dict(task)}), then "
                                       "env.step(action) for each of finding.actions"}
        return out


@dataclass
class AuditReport:
    """The audit of a set of tasks on one env."""

    env: str
    tasks: list[TaskAudit]
    seconds: float = 0.0

    @property
    def hackable(self) -> list[TaskAudit]:
        return [audit for audit in self.tasks if audit.verdict == "hackable"]

    @property
    def broken(self) -> list[TaskAudit]:
        return [audit for audit in self.tasks if audit.verdict == "broken"]

    @property
    def ok(self) -> bool:
        """No task is hackable or broken."""
        return all(audit.verdict == "ok" for audit in self.tasks)

    def counts_by_exploit(self) -> dict[str, int]:
        """How many tasks each exploit class makes hackable (a task counts once per class), most first."""
        counts = Counter(exploit for audit in self.tasks for exploit in audit.exploits)
        return dict(counts.most_common())

    def counts_by_verdict(self) -> dict[str, int]:
        counts = Counter(audit.verdict for audit in self.tasks)
        return {verdict: counts.get(verdict, 0) for verdict in ("ok", "hackable", "broken")}

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "seconds": round(self.seconds, 3), "verdicts": self.counts_by_verdict(),
                "exploits": self.counts_by_exploit(), "probes": sum(audit.probes for audit in self.tasks),
                "tasks": [audit.to_dict() for audit in self.tasks]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def merge(self, other: AuditReport) -> AuditReport:
        """One report of both (the envs' names joined)."""
        env = self.env if other.env == self.env else f"{self.env}+{other.env}"
        return AuditReport(env, [*self.tasks, *other.tasks], self.seconds + other.seconds)


def default_batteries() -> list[Battery]:
    """Every battery of :data:`BATTERY_MODULES` that is present."""
    batteries: list[Battery] = []
    for name in BATTERY_MODULES:
        module_name = f"{__package__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        batteries.extend(module.BATTERIES)
    return batteries


# --- playing probes ----------------------------------------------------------------------------------------------

@dataclass
class Episode:
    """What playing a probe gave."""

    observations: list[str]
    actions: list[Any]
    reward: float
    error: BaseException | None = None


def play(env: gym.Env, task: Task, actions: Sequence[Any], *, seed: int = 0) -> Episode:
    """Play ``actions`` on a fresh episode of ``task``: reset, then each action (a callable gets the observations
    so far and returns the action) until the episode ends or the actions run out. Exceptions are caught into
    :attr:`Episode.error`, with what was played up to them."""
    observations: list[str] = []
    played: list[Any] = []
    total = 0.0
    try:
        observation, _ = env.reset(seed=seed, options={"task": task})
        observations.append(str(observation))
        for action in actions:
            if callable(action):
                action = action(tuple(observations))
            played.append(action)
            observation, reward, terminated, truncated, _ = env.step(action)
            observations.append(str(observation))
            total += float(reward)
            if terminated or truncated:
                break
    except Exception as exc:  # noqa: BLE001 - any exception of a probe is a finding
        return Episode(observations, played, total, exc)
    return Episode(observations, played, total)


def _judge(probe: Probe, episode: Episode, seed: int) -> Finding | None:
    """The finding a probe's episode makes, or None when it did what it must."""
    error = None if episode.error is None else f"{type(episode.error).__name__}: {str(episode.error)[:500]}"
    if probe.must == "fail":
        if episode.error is None and episode.reward <= 0:
            return None
        exploit = probe.exploit if episode.error is None else INFRA_ERROR
        detail = probe.detail if episode.error is None else f"{probe.exploit}: {probe.detail}"
    else:
        if episode.error is None and episode.reward >= 1.0 - 1e-9:
            return None
        exploit, detail = probe.exploit, probe.detail
    last = episode.observations[-1] if episode.observations else ""
    return Finding(exploit, probe.must, episode.reward, tuple(episode.actions), detail, error,
                   last[-MAX_OBSERVATION_CHARS:], seed)


def audit_task(env: gym.Env, task: Task, batteries: Sequence[Battery], *, seed: int = 0) -> TaskAudit:
    """Play every probe of every battery that applies to ``task`` on ``env``; the task's verdict."""
    started = time.perf_counter()
    unwrapped = env.unwrapped
    applicable = [battery for battery in batteries if battery.applies(unwrapped, task)]
    if not applicable:
        raise ValueError(f"no audit battery applies to task {task.id!r} ({task.family}) on "
                         f"{type(unwrapped).__name__}; batteries: {[b.name for b in batteries]}")

    def explore(actions: Sequence[Any]) -> list[str]:
        episode = play(env, task, actions, seed=seed)
        if episode.error is not None:
            raise ExploreError(f"exploring task {task.id!r} failed: {episode.error!r}") from episode.error
        return episode.observations

    findings: list[Finding] = []
    count = 0
    for battery in applicable:
        try:
            for probe in battery.probes(task, explore):
                count += 1
                finding = _judge(probe, play(env, task, probe.actions, seed=seed), seed)
                if finding is not None and probe.must == "pass":
                    finding = _judge(probe, play(env, task, probe.actions, seed=seed), seed)
                if finding is not None:
                    findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - a battery that cannot attack the task cannot vouch for it
            findings.append(Finding(f"{battery.name}-battery", "pass", 0.0, (), "the battery failed on this task",
                                    f"{type(exc).__name__}: {str(exc)[:500]}", seed=seed))
    if any(f.must == "fail" for f in findings):
        verdict: Verdict = "hackable"
    elif findings:
        verdict = "broken"
    else:
        verdict = "ok"
    return TaskAudit(task.id, task.family, verdict, findings, count, time.perf_counter() - started, task)


class ExploreError(RuntimeError):
    """A battery's exploring episode raised: the task cannot be audited (it is reported broken)."""


# --- the runner ----------------------------------------------------------------------------------------------------

def _factory(env: Any, env_kwargs: dict[str, Any] | None) -> tuple[Callable[[], gym.Env] | None, gym.Env | None, str]:
    """(a factory of envs, or None; a given env, or None; the env's name for the report)."""
    if isinstance(env, str):
        return (lambda: gym.make(env, **(env_kwargs or {}))), None, env
    if isinstance(env, gym.Env):
        if env_kwargs:
            raise ValueError("env_kwargs go with an env id; this env is already made")
        spec = getattr(env, "spec", None)
        return None, env, spec.id if spec is not None else type(env.unwrapped).__name__
    if callable(env):
        if env_kwargs:
            raise ValueError("env_kwargs go with an env id; pass them to your factory instead")
        return env, None, getattr(env, "__name__", "env")
    raise TypeError(f"env must be an env id, a gymnasium.Env or a factory of envs, not {type(env).__name__}")


def audit_tasks(env: Any, tasks: Iterable[Task], *, batteries: Sequence[Battery] | None = None, workers: int = 1,
                progress: bool = True, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                on_result: Callable[[TaskAudit], None] | None = None) -> AuditReport:
    """Audit ``tasks`` on ``env`` and report which are hackable.

    Args:
        env: an env id (``"selfgym/Math-v0"``, made with ``env_kwargs``), a made env, or a factory of envs.
        tasks: the tasks to audit.
        batteries: the batteries to play (default: :func:`default_batteries`).
        workers: tasks audited at once, each worker with an env of its own (an id or a factory is needed for
            more than one).
        progress: show a progress bar on stderr.
        seed: every episode's reset seed (a MiniWoB page draws its problem from it).
        on_result: called with each task's audit as it is done (from worker threads, one at a time).

    An env made here is closed at the end; one that raised is replaced by a fresh one for the next task.
    """
    tasks = list(tasks)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    factory, given, name = _factory(env, env_kwargs)
    if given is not None and workers > 1:
        raise ValueError("pass an env id or a factory of envs to audit with several workers (each needs its own env)")
    batteries = list(batteries) if batteries is not None else default_batteries()
    started = time.perf_counter()
    results: list[TaskAudit | None] = [None] * len(tasks)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(tasks)):
        todo.put(index)
    lock = threading.Lock()
    failures: list[BaseException] = []
    bar = _ProgressBar(len(tasks), name) if progress else None

    def work() -> None:
        current = given
        try:
            while not failures:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                if current is None:
                    current = factory()
                audit = audit_task(current, tasks[index], batteries, seed=seed)
                results[index] = audit
                if factory is not None and any(f.error for f in audit.findings):
                    current.close()  # an episode raised: the next task gets an env in a known state
                    current = None
                with lock:
                    if on_result is not None:
                        on_result(audit)
                    if bar is not None:
                        bar.advance(audit)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failures.append(exc)
        finally:
            if current is not None and current is not given:
                current.close()

    try:
        threads = [threading.Thread(target=work, name=f"audit-{i}", daemon=True)
                   for i in range(min(workers, max(len(tasks), 1)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if bar is not None:
            bar.close()
    if failures:
        raise failures[0]
    return AuditReport(name, [audit for audit in results if audit is not None], time.perf_counter() - started)


class _ProgressBar:
    """A rich progress bar on stderr: tasks done, and how many were hackable or broken so far."""

    def __init__(self, total: int, name: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("[bold]audit[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                                  console=Console(stderr=True), transient=True)
        self._counts: Counter[str] = Counter()
        self._task = self._progress.add_task(name, total=total, status="")
        self._progress.start()

    def advance(self, audit: TaskAudit) -> None:
        self._counts[audit.verdict] += 1
        status = f"hackable {self._counts['hackable']}, broken {self._counts['broken']}"
        self._progress.update(self._task, advance=1, status=status)

    def close(self) -> None:
        self._progress.stop()


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it (tool calls are dicts already; anything else as its repr)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
