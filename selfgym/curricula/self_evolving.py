"""Self-evolving curriculum (WebRL, Qi et al. 2024): new tasks are written from the ones the agent failed, and
kept only when valid, new, neither hopeless nor trivial for the current agent, and, with an ``audit``, neither
hackable nor broken (``selfgym audit``'s batteries played against the written task before it can be drawn)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..envs.task import Task
from ..io import atomic_write_text
from ..params import AtLeastOne, Fraction, NonNegative, NonNegativeInt
from .base import Curriculum, task_arm
from .outcome_model import OutcomeModel


@runtime_checkable
class TaskWriter(Protocol):
    """Proposes new tasks from a failed one (WebRL: "same domain, more diverse, similar difficulty")."""

    def propose(self, failed: Task, rng: np.random.Generator, n: int) -> list[Task]: ...


class MutationWriter:
    """For procedural families: ``family.mutate(task, rng)`` when the family has it, else a fresh instance from
    the failed task's level or the one below (an easier variant, as LADDER does)."""

    def __init__(self, families: Iterable[Any]) -> None:
        self.families = {family.name: family for family in families}

    def propose(self, failed: Task, rng: np.random.Generator, n: int) -> list[Task]:
        family = self.families.get(failed.family)
        if family is None:
            return []
        if hasattr(family, "mutate"):
            return [family.mutate(failed, rng) for _ in range(n)]
        level = task_arm(failed).level
        return [family.make(max(0, level - int(rng.integers(2))), rng) for _ in range(n)]


Validator = Callable[[Task], "str | None"]  # None when valid, else why not
Critic = Callable[[Task], float]  # the estimated success probability of the current agent on a task
Auditor = Callable[[Task], Any]  # a TaskAudit (selfgym.envs.audit): .verdict "ok" | "hackable" | "broken"
MAX_PROPOSALS_KEPT = 2000  # the latest proposals kept (with their decisions and audits) for reports and resumes


@dataclass(frozen=True)
class Proposal:
    """A task a writer proposed, what the curriculum decided, and why.

    Attributes:
        task: the written task.
        written_from: the id of the failed task it was written from.
        decision: ``added``, ``rejected_invalid``, ``rejected_duplicate``, ``rejected_band``, ``rejected_audit``
            or ``rejected_full`` (the pool is at ``max_pool``).
        reason: why it was rejected (the validator's reason, the audit's exploit classes), or None.
        audit: the audit's verdict and findings (``TaskAudit.to_dict()`` without observations), when it was audited.
    """

    task: Task
    written_from: str
    decision: str
    reason: str | None = None
    audit: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.to_dict(), "written_from": self.written_from, "decision": self.decision,
                "reason": self.reason, "audit": self.audit}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Proposal:
        return cls(Task.from_dict(raw["task"]), raw["written_from"], raw["decision"], raw.get("reason"),
                   raw.get("audit"))


def fingerprint(task: Task) -> str:
    """Equal for tasks that ask the same thing: the family plus the prompt with case, spacing and punctuation
    normalised (ids and numbering the writer added do not make a task new)."""
    text = re.sub(r"[\W_]+", " ", task.prompt.lower()).strip()
    return hashlib.sha256(f"{task.family}\n{text}".encode()).hexdigest()[:20]


def with_default_audit(name: str, params: Mapping[str, Any], env_id: str,
                       env_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A curriculum's keyword arguments with the self-evolving curriculum's audit gate on by default: every task
    it writes is played against ``selfgym audit``'s batteries on the env it is played on (``env_id`` with
    ``env_kwargs``) before it can be drawn, unless ``params`` gives ``audit`` itself (another env id or spec, or
    None for no audit). Other curricula's parameters come back as they are."""
    params = dict(params)
    if name == "self_evolving" and "audit" not in params:
        params["audit"] = {"env": env_id, "env_kwargs": dict(env_kwargs or {})}
    return params


class SelfEvolvingCurriculum(Curriculum):
    """A growing pool of tasks, evolved every ``phase_length`` episodes.

    Playing: pool tasks are drawn in proportion to p(1 - p), with ``explore`` of uniform draws; p is the task's
    own record with the outcome model's prediction as a prior worth ``prior_strength`` episodes,
    ``(successes + k p_model) / (trials + k)``. The outcome model (:class:`OutcomeModel`, per family success
    against difficulty, fitted on recent outcomes) places tasks the agent never played: as the agent improves,
    harder tasks of the pool enter the band it learns most from, and tasks it has mastered leave it.

    Evolving: for up to ``max_failures`` tasks failed in the phase, each writer proposes ``per_failure`` tasks;
    a proposal is kept when ``validator`` accepts it, its :func:`fingerprint` is new, and ``critic`` puts the
    current agent's success in ``band`` (WebRL: 0.05-0.75). The default critic is the outcome model (WebRL's
    outcome-reward model has this role: it judges a task the agent has not tried). ``stats`` counts every decision.

    Auditing: with ``audit`` (a :class:`~selfgym.envs.audit.TaskAuditor`, an env id such as ``"selfgym/Shell-v0"``,
    ``{env, env_kwargs, seed}``, or any callable ``task -> TaskAudit``), a proposal that passed every check above
    is played against ``selfgym audit``'s batteries before it joins the pool; one found hackable or broken is
    rejected (``rejected_audit``) and never drawn. The audit comes last because it plays episodes (10 to 25 a shell
    task): a proposal rejected for free is never drawn either. ``proposals`` keeps the latest proposals with their
    decisions and audits; :meth:`written` reports them, :meth:`save_proposals` writes them.
    """

    def __init__(self, families, *, seed: int = 0, writers: Sequence[TaskWriter] | None = None,
                 validator: Validator | None = None, critic: Critic | None = None,
                 band: tuple[Fraction, Fraction] = (0.05, 0.75), phase_length: AtLeastOne = 50,
                 per_failure: NonNegativeInt = 2, max_failures: NonNegativeInt = 10,
                 initial_per_arm: NonNegativeInt = 2, explore: Fraction = 0.1, max_pool: AtLeastOne = 5000,
                 prior_strength: NonNegative = 8.0, audit: Any = None) -> None:
        super().__init__(families, seed=seed)
        low, high = band
        if not 0 <= low < high <= 1:
            raise ValueError(f"band must satisfy 0 <= low < high <= 1, got {band}")
        self.writers = list(writers) if writers is not None else [MutationWriter(self.families.values())]
        self.outcome_model = OutcomeModel()
        self.validator, self.critic = validator, critic or self.outcome_model.predict
        self.auditor: Auditor | None = None
        if audit is not None:
            from ..envs.audit import TaskAuditor

            self.auditor = TaskAuditor.from_spec(audit)
        self.proposals: list[Proposal] = []
        self.audit_exploits: Counter[str] = Counter()
        self.prior_strength = prior_strength
        self.band, self.phase_length, self.per_failure = (low, high), phase_length, per_failure
        self.max_failures, self.explore, self.max_pool = max_failures, explore, max_pool
        self.pool: list[Task] = []
        self.successes: list[float] = []
        self.trials: list[float] = []
        self.seen: set[str] = set()
        self.index: dict[str, int] = {}
        self.phase_failures: list[Task] = []
        self.stats: Counter[str] = Counter()
        self.invalid_reasons: Counter[str] = Counter()
        for arm in self.arms:
            for _ in range(initial_per_arm):
                self._add(self.make(arm))

    def _add(self, task: Task) -> bool:
        key = fingerprint(task)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.index[f"{task.family}/{task.id}"] = len(self.pool)
        self.pool.append(task)
        self.successes.append(0.0)
        self.trials.append(0.0)
        return True

    def success_estimates(self) -> tuple[np.ndarray, np.ndarray]:
        """For every pool task (shapes (len(pool),)): P(success), its record with the model's prediction as
        prior; and the model's slope for its family (how much success there depends on difficulty)."""
        predicted, slopes = np.empty(len(self.pool)), np.empty(len(self.pool))
        families = np.array([task.family for task in self.pool])
        difficulties = np.array([float(task.difficulty) for task in self.pool])
        for family in set(families.tolist()):
            where = families == family
            predicted[where] = self.outcome_model.predict_many(family, difficulties[where])
            slopes[where] = self.outcome_model.slope(family)
        k = self.prior_strength
        return (np.array(self.successes) + k * predicted) / (np.array(self.trials) + k), slopes

    def next_task(self) -> Task:
        p, slopes = self.success_estimates()
        weights = slopes ** 2 * p * (1 - p) + 1e-12  # a task's Fisher information about the agent's skill
        probs = (1 - self.explore) * weights / weights.sum() + self.explore / len(weights)
        return self.pool[int(self.rng.choice(len(self.pool), p=probs))]

    def _update(self, task: Task, success: float) -> None:
        self.outcome_model.observe(task, success)
        i = self.index.get(f"{task.family}/{task.id}")
        if i is None:  # a task from outside the pool (e.g. an evaluation task): adopt it
            self._add(task)
            i = self.index.get(f"{task.family}/{task.id}")
        if i is not None:
            self.successes[i] += success
            self.trials[i] += 1
        if success < 0.5:
            self.phase_failures.append(task)
        if self.episodes % self.phase_length == 0:
            self.evolve()

    def evolve(self) -> list[Task]:
        """Write, check and add new tasks from this phase's failures; returns those added."""
        failures, self.phase_failures = self.phase_failures, []
        if len(failures) > self.max_failures:
            picks = self.rng.choice(len(failures), size=self.max_failures, replace=False)
            failures = [failures[int(i)] for i in sorted(picks)]
        added = []
        for failed in failures:
            for writer in self.writers:
                for task in writer.propose(failed, self.rng, self.per_failure):
                    proposal = self._judge(task, failed)
                    self.stats[proposal.decision] += 1
                    self.proposals.append(proposal)
                    if proposal.decision == "added":
                        self._add(task)
                        added.append(task)
        del self.proposals[:-MAX_PROPOSALS_KEPT]
        return added

    def _judge(self, task: Task, failed: Task) -> Proposal:
        self.stats["proposed"] += 1
        if self.validator is not None and (reason := self.validator(task)) is not None:
            self.invalid_reasons[reason[:100]] += 1
            return Proposal(task, failed.id, "rejected_invalid", reason[:500])
        if fingerprint(task) in self.seen:
            return Proposal(task, failed.id, "rejected_duplicate")
        low, high = self.band
        if not low <= self.critic(task) <= high:
            return Proposal(task, failed.id, "rejected_band")
        if len(self.pool) >= self.max_pool:
            return Proposal(task, failed.id, "rejected_full")
        if self.auditor is None:
            return Proposal(task, failed.id, "added")
        audit = self.auditor(task)  # last: it plays episodes
        record = audit.to_dict()
        record.pop("reproduce", None)  # the task is kept beside it
        for finding in record["findings"]:
            finding.pop("observation", None)
        if audit.verdict == "ok":
            return Proposal(task, failed.id, "added", audit=record)
        self.audit_exploits.update(audit.exploits or [f.exploit for f in audit.findings])
        why = ", ".join(audit.exploits or dict.fromkeys(f.exploit for f in audit.findings))
        return Proposal(task, failed.id, "rejected_audit", f"{audit.verdict}: {why}", record)

    def written(self) -> list[dict[str, Any]]:
        """The written tasks as a report shows them, latest last: id, family, written from, decision, the audit's
        verdict and exploit classes (None when not audited), and the reason of a rejection."""
        rows = []
        for proposal in self.proposals:
            audit = proposal.audit or {}
            exploits = list(dict.fromkeys(f["exploit"] for f in audit.get("findings", [])))
            rows.append({"task": proposal.task.id, "family": proposal.task.family,
                         "written_from": proposal.written_from, "decision": proposal.decision,
                         "audit": audit.get("verdict"), "exploits": exploits, "reason": proposal.reason})
        return rows

    def written_summary(self) -> dict[str, Any]:
        """Counts for a run's metrics: every decision so far, and the exploit classes audits found."""
        return {**{key: value for key, value in self.stats.items()}, "audit_exploits": dict(self.audit_exploits)}

    def close(self) -> None:
        """Close the auditor's env (and its sandbox), when it has one."""
        close = getattr(self.auditor, "close", None)
        if close is not None:
            close()

    def save_proposals(self, path: str) -> None:
        """The kept proposals as JSONL (task, written_from, decision, reason, audit), written atomically."""
        atomic_write_text(path, "".join(json.dumps(p.to_dict(), sort_keys=True) + "\n" for p in self.proposals))

    def _state(self) -> dict[str, Any]:
        return {"pool": [task.to_dict() for task in self.pool], "successes": self.successes, "trials": self.trials,
                "outcome_model": self.outcome_model.state_dict(), "phase_failures": [t.to_dict() for t in self.phase_failures],
                "stats": dict(self.stats), "invalid_reasons": dict(self.invalid_reasons),
                "proposals": [proposal.to_dict() for proposal in self.proposals],
                "audit_exploits": dict(self.audit_exploits)}

    def _load(self, state: dict[str, Any]) -> None:
        self.pool, self.successes, self.trials, self.seen, self.index = [], [], [], set(), {}
        for raw in state["pool"]:
            self._add(Task.from_dict(raw))
        self.successes, self.trials = list(state["successes"]), list(state["trials"])
        self.outcome_model.load_state_dict(state["outcome_model"])
        self.phase_failures = [Task.from_dict(raw) for raw in state["phase_failures"]]
        self.stats = Counter(state["stats"])
        self.invalid_reasons = Counter(state["invalid_reasons"])
        self.proposals = [Proposal.from_dict(raw) for raw in state.get("proposals", [])]
        self.audit_exploits = Counter(state.get("audit_exploits", {}))

    def save_pool(self, path: str) -> None:
        """The task pool as JSONL (one task per line), for reuse as a task source."""
        atomic_write_text(path, "".join(json.dumps(t.to_dict(), sort_keys=True) + "\n" for t in self.pool))
