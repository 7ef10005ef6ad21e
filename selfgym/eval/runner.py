"""Running an agent over a suite: parallel workers, a resumable episode log, and the summary.

A run lives in one folder:

* ``run.json``: the suite (name, version, fingerprint), the agent, and one entry per invocation (executor,
  workers, versions, sandbox images);
* ``episodes.jsonl``: one trajectory per finished episode (the :class:`~selfgym.agents.Trajectory` format,
  with ``meta.eval`` = key, task set, attempt, seed), appended and fsync'd as episodes finish. Each record's
  ``status`` says how the episode ended: ``"done"`` (the env ended it, or ``max_turns``), ``"stopped"`` (the
  conversation outgrew the model's context: the agent's failure, ``reason`` says so), or ``"error"`` (its
  sandbox was lost for reasons outside the agent more often than the env replays an action, and the episode,
  played again from the start (``meta.infra_replays``, ``meta.infra_errors``), was lost again:
  :class:`~selfgym.sandbox.InfrastructureError`, ``reason`` says what happened). Errors are not failures:
  the summary counts them apart from the success rate and pass@k;
* ``summary.json``: the statistics (:mod:`selfgym.eval.summary`), written when the run ends.

Running again in the same folder resumes: episodes already logged are skipped (those logged as errors are
played again), a line torn by a kill is cut off first, and each episode is logged once (but for its error
records: each run that plays it again adds one line). Episodes are played in *chunks* of ``batch_size``
consecutive episodes of one task set, played in lockstep (one batched policy call per turn); chunks do not
depend on the number of workers or the executor, so neither changes the results.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..runtime import Executor, make_executor
from ..agents.policy import LockedPolicy, Policy, Sampling
from ..agents.rollout import DEFAULT_SYSTEM_PROMPT, rollout_many
from ..agents.spec import AgentSpec, build_policy, parse_agent
from ..io import append_jsonl, atomic_write_json
from .suite import Episode, ExpandedSuite, Suite, expand_suite, load_suite
from .summary import is_error, now, suite_identity, summarize, versions


class EvalError(RuntimeError):
    """A run that cannot go on: e.g. its folder holds a run of another suite or agent."""


# --- what workers play --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlaySettings:
    """What every worker needs to play chunks the same way."""

    sampling: Sampling
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    max_turns: int | None = None
    batch_size: int = 1
    env_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, suite: Suite, batch_size: int) -> PlaySettings:
        spec = suite.sampling
        sampling = Sampling(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature,
                            top_p=spec.top_p, stop=tuple(spec.stop))
        system_prompt = suite.system_prompt if suite.system_prompt is not None else DEFAULT_SYSTEM_PROMPT
        env_ids = tuple(dict.fromkeys(task_set.env for task_set in suite.task_sets))
        return cls(sampling, system_prompt or None, suite.max_turns, batch_size, env_ids)


class RolloutWorker:
    """Plays chunks of episodes with one policy, its envs drawing sandboxes from pools made from what each env
    declares (:class:`~selfgym.envs.EnvPools`: one per image and limits).

    ``pools``/``policy`` are shared with the other workers of this process when given (the local executor);
    otherwise the worker makes its own (a Ray actor) and closes them in :meth:`close`.
    """

    def __init__(self, agent: AgentSpec, settings: PlaySettings, *, pools=None, policy: Policy | None = None,
                 device: str | None = None) -> None:
        from ..envs.pools import EnvPools

        self.agent = agent
        self.settings = settings
        self._envs: list = []
        self._envs_key: tuple[str, str] | None = None
        self._own_pools = pools is None
        self.pools = pools if pools is not None else EnvPools(settings.batch_size)
        try:
            self.policy = policy if policy is not None else build_policy(agent, settings.sampling, device=device)
        except BaseException:
            self.close()
            raise

    def describe(self) -> dict[str, Any]:
        from ..sandbox import docker_client

        return {"pid": os.getpid(), "host": socket.gethostname(), "versions": versions(),
                "images": image_digests(docker_client(), [pool_image_of(env_id) for env_id in self.settings.env_ids])}

    def _env(self, episode: Episode, slot: int):
        """The env for ``slot`` of a chunk of ``episode``'s task set. A worker keeps the envs of one task set
        at a time: an env holds its sandbox between episodes, so envs left over from another set would keep
        sandboxes that the pool (``batch_size`` per worker) needs for this one."""
        import gymnasium as gym

        import selfgym  # noqa: F401 - registers the ids in a fresh worker process

        key = (episode.env_id, json.dumps(dict(episode.env_kwargs), sort_keys=True))
        if key != self._envs_key:
            self._close_envs()
            self._envs_key = key
        pool = self.pools.get(episode.env_id, episode.env_kwargs)
        while len(self._envs) <= slot:
            self._envs.append(gym.make(episode.env_id, pool=pool, **episode.env_kwargs))
        return self._envs[slot]

    def _close_envs(self) -> None:
        envs, self._envs, self._envs_key = self._envs, [], None
        for env in envs:
            env.close()

    def play(self, chunk: Sequence[dict]) -> list[dict]:
        """Play the episodes of ``chunk`` (:class:`Episode` dicts) in lockstep; return their trajectories as
        dicts, with ``meta.eval`` saying which episode each is."""
        episodes = [Episode.from_dict(raw) for raw in chunk]
        envs = [self._env(episode, slot) for slot, episode in enumerate(episodes)]
        sampling = dataclasses.replace(self.settings.sampling, seed=episodes[0].seed)
        settings = {"system_prompt": self.settings.system_prompt, "sampling": sampling,
                    "max_turns": self.settings.max_turns, "meta": {"agent": self.agent.display_name}}
        trajectories = rollout_many(envs, self.policy, [e.task for e in episodes], seeds=[e.seed for e in episodes],
                                    **settings)
        records = []
        for episode, trajectory in zip(episodes, trajectories, strict=True):
            trajectory.meta["eval"] = {"key": episode.key, "task_set": episode.task_set,
                                       "attempt": episode.attempt, "seed": episode.seed,
                                       "sampling_seed": sampling.seed, "worker_pid": os.getpid()}
            record = trajectory.to_dict()
            if trajectory.error is not None:
                record.update(status="error", reason=trajectory.error)
            elif "stopped" in trajectory.meta:
                record.update(status="stopped", reason=str(trajectory.meta["stopped"]))
            else:
                record.update(status="done", reason=None)
            records.append(record)
        return records

    def close(self) -> None:
        self._close_envs()
        if self._own_pools and hasattr(self, "pools"):
            self.pools.close()


def pool_image_of(env_id: str) -> str:
    """The tag of the sandbox image envs of ``env_id`` run in (as the env declares it)."""
    from ..envs.pools import sandbox_spec

    return sandbox_spec(env_id).tag()


def image_digests(client, tags: Sequence[str]) -> dict[str, str]:
    """``{tag: image id}`` (the id is the digest of the image's content; "unknown" for one not found)."""
    digests = {}
    for tag in tags:
        try:
            digests[tag] = client.images.get(tag).id
        except Exception as exc:  # noqa: BLE001 - a missing digest must not stop an eval
            digests[tag] = f"unknown ({type(exc).__name__})"
    return digests


def chunks(episodes: Sequence[Episode], batch_size: int) -> list[list[Episode]]:
    """Consecutive episodes of one task set, ``batch_size`` at most per chunk (canonical order)."""
    grouped: list[list[Episode]] = []
    for episode in episodes:
        if grouped and grouped[-1][0].task_set == episode.task_set and len(grouped[-1]) < batch_size:
            grouped[-1].append(episode)
        else:
            grouped.append([episode])
    return grouped


# --- the run folder -----------------------------------------------------------------------------------------

class EpisodeLog:
    """``episodes.jsonl``: one JSON record a line, appended and fsync'd. An episode is logged once, but an
    episode logged as an infrastructure error is logged again when it is played again (``records`` holds the
    last).

    Opening it cuts off a torn last line (a write a kill interrupted), so appends never glue onto half a
    record.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.records: dict[str, dict] = {}
        self._repair_and_read()

    def _repair_and_read(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        for number, line in enumerate(data[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = record["meta"]["eval"]["key"]
            except (json.JSONDecodeError, KeyError, TypeError):
                problem = f"{self.path}:{number}: not an episode record; is this an eval folder?"
                raise EvalError(problem) from None
            if self.open(key):
                self.records[key] = record

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` has a record (an error's included)."""
        return key in self.records

    def open(self, key: str) -> bool:
        """Whether episode ``key`` is still to be played: no record yet, or one of an infrastructure error."""
        return key not in self.records or is_error(self.records[key])

    def append(self, records: Iterable[dict]) -> list[dict]:
        """Log the records of episodes still open (in one write); return those."""
        with self._lock:
            fresh = []
            for record in records:
                key = record["meta"]["eval"]["key"]
                if self.open(key):
                    self.records[key] = record
                    fresh.append(record)
            if fresh:
                append_jsonl(self.path, fresh)
            return fresh


class RunFolder:
    """``run.json``: which suite and agent a folder's results are of, and each invocation's details."""

    def __init__(self, out_dir: Path, expanded: ExpandedSuite, agent: AgentSpec) -> None:
        self.path = out_dir / "run.json"
        identity = {"suite": suite_identity(expanded), "agent": agent.to_dict()}
        if self.path.exists():
            state = json.loads(self.path.read_text(encoding="utf-8"))
            theirs, ours = (_run_identity(state), _run_identity(identity))
            if theirs != ours:
                raise EvalError(f"{out_dir} holds a run of {theirs[0]} (fingerprint {theirs[1]}) by "
                                f"{state['agent'].get('spec')!r}, not of {ours[0]} ({ours[1]}) by {agent.spec!r}: "
                                "choose another --out folder")
            self.state = {**state, "agent": identity["agent"]}  # the name may change between sessions
        else:
            self.state = {**identity, "sessions": []}
        self._lock = threading.Lock()

    def start_session(self, executor: Executor, batch_size: int) -> dict:
        """Record an invocation (it has episodes to play); its workers are added as they start."""
        session = {"id": uuid.uuid4().hex[:8], "started": time.time(), "started_at": now(),
                   "executor": executor.describe(), "batch_size": batch_size, "workers": [],
                   "host": socket.gethostname(), "versions": versions()}
        self.state["sessions"].append(session)
        self.save()
        return session

    def add_worker(self, session: dict, info: dict) -> None:
        with self._lock:
            session["workers"].append(info)
        self.save()

    def save(self) -> None:
        with self._lock:
            atomic_write_json(self.path, self.state)


def _run_identity(state: dict) -> tuple:
    """What a resumed run must share with the folder's: the suite, and the agent (its display name may
    change)."""
    suite, agent = state["suite"], state["agent"]
    return suite["label"], suite["fingerprint"], agent.get("backend"), agent.get("model"), agent.get("base_url")


# --- running ------------------------------------------------------------------------------------------------

def run_eval(suite: Suite | str | Path, agent: AgentSpec | str, out_dir: str | Path, *,
             executor: Executor | str = "local", workers: int = 4, batch_size: int = 1,
             ray_address: str | None = None, device: str | None = None, progress: bool = True,
             console: Console | None = None) -> dict[str, Any]:
    """Run ``agent`` over ``suite``, logging episodes to ``out_dir``; return (and write) the summary.

    Args:
        suite: a :class:`Suite`, a suite file, or a shipped suite's name.
        agent: an :class:`AgentSpec` or an ``--agent`` string (see :mod:`selfgym.eval.agent_spec`).
        out_dir: the run folder; an existing one of the same suite and agent is resumed.
        executor: ``"local"`` (threads), ``"ray"`` (actors; ``ray_address`` joins a cluster), or an
            :class:`~selfgym.runtime.executors.Executor`.
        workers: workers (threads or actors) when ``executor`` is a name.
        batch_size: episodes each worker plays in lockstep (one batched policy call per turn).
        device: where a local model runs (default: CUDA when available).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    suite = load_suite(suite) if isinstance(suite, (str, Path)) else suite
    agent = parse_agent(agent) if isinstance(agent, str) else agent
    if isinstance(executor, str):
        executor = make_executor(executor, workers, address=ray_address)
    expanded = expand_suite(suite)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = RunFolder(out_dir, expanded, agent)
    log = EpisodeLog(out_dir / "episodes.jsonl")
    todo = [[e.to_dict() for e in chunk] for chunk in chunks(expanded.episodes, batch_size)
            if any(log.open(e.key) for e in chunk)]
    if todo:
        session = run.start_session(executor, batch_size)
        executor.on_worker = functools.partial(run.add_worker, session)
        settings = PlaySettings.of(suite, batch_size)
        agent = agent.model_copy(update={"batch_size": batch_size})  # what each worker generates together
        factory, shared_pools = _worker_factory(executor, agent, settings, device)
        try:
            with _Progress(console, progress, expanded, log) as advance:
                for _, records in executor.map_unordered(factory, todo):
                    finished_at = time.time()
                    for record in records:
                        record["meta"]["eval"].update(session=session["id"], finished_at=finished_at)
                    advance(log.append(records))
        finally:
            if shared_pools is not None:
                shared_pools.close()
    records = [log.records[e.key] for e in expanded.episodes if e.key in log]
    summary = summarize(expanded, records, run.state["sessions"], agent)
    atomic_write_json(out_dir / "summary.json", summary)
    return summary


def _worker_factory(executor: Executor, agent: AgentSpec, settings: PlaySettings, device: str | None):
    """How the executor builds workers, and the pools they share: local threads share one set of pools and one
    policy (a local model is loaded once); each Ray actor makes its own (None). The caller closes the shared
    pools."""
    if not executor.in_process:
        return functools.partial(RolloutWorker, agent, settings, device=device), None
    from ..envs.pools import EnvPools

    pools = EnvPools(executor.workers * settings.batch_size)
    try:
        policy = build_policy(agent, settings.sampling, device=device)
    except BaseException:
        pools.close()
        raise
    if not agent.thread_safe and executor.workers > 1:
        policy = LockedPolicy(policy)  # the threads take turns with it
    return functools.partial(RolloutWorker, agent, settings, pools=pools, policy=policy), pools


class _Progress:
    """A rich progress bar over the suite's episodes (a no-op when disabled); yields ``advance(records)``."""

    def __init__(self, console: Console | None, enabled: bool, expanded: ExpandedSuite, log: EpisodeLog):
        keys = {e.key for e in expanded.episodes}
        done = [record for key, record in log.records.items() if key in keys and not log.open(key)]
        self.solved = sum(bool(r["success"]) for r in done)
        self.errors = 0
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("solved {task.fields[solved]}"), TextColumn("{task.fields[errors]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console or Console(stderr=True),
                            disable=not enabled)
        self.task = self.bar.add_task(expanded.suite.label, total=len(keys), completed=len(done),
                                      solved=self.solved, errors="")

    def __enter__(self):
        self.bar.start()
        return self.advance

    def advance(self, records: list[dict]) -> None:
        self.solved += sum(bool(r["success"]) and not is_error(r) for r in records)
        self.errors += sum(is_error(r) for r in records)
        self.bar.update(self.task, advance=len(records), solved=self.solved,
                        errors=f"errors {self.errors}" if self.errors else "")

    def __exit__(self, *exc_info) -> None:
        self.bar.stop()
