"""Scripted agents for baselines and tests: the floor (:class:`EmptyPolicy`) and the ceiling a verifier allows
(:class:`OraclePolicy`, which plays each task's reference solution)."""

from __future__ import annotations

import threading

from ..envs.task import Task
from .policy import Completion, Policy, PolicyError, Sampling, truncate_at_stop


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


class OraclePolicy(_StatelessScript):
    """Plays each task's reference solution, as its env class says (``reference_reply``: the actions in turn, or
    for web tasks the reference replayed over the pages seen so far).

    A policy sees only the conversation, so the oracle recognises the task by its env's ``task_signature``, which
    the first observation contains (the longest one found there wins, so a prompt that is part of another cannot
    be mistaken for it). It learns the tasks from :meth:`expect` (the rollout loop calls it for every episode), or
    from ``tasks`` (``(env_class, task)`` pairs) given up front. A conversation about no known task is a
    :class:`PolicyError`.
    """

    name = "scripted:oracle"

    def __init__(self, tasks: tuple[tuple[type, Task], ...] = (), *, sampling: Sampling | None = None) -> None:
        super().__init__(sampling)
        self._tasks: dict[str, tuple[type, Task]] = {}
        self._signatures: list[str] = []
        self._lock = threading.Lock()
        for env_class, task in tasks:
            self.expect(env_class, task)

    def expect(self, env_class: type, task: Task) -> None:
        signature = env_class.task_signature(task)
        with self._lock:
            if signature not in self._tasks:
                self._tasks[signature] = (env_class, task)
                # longest first: the first signature found in an observation is the most specific one
                self._signatures = sorted(self._tasks, key=len, reverse=True)

    def reply(self, messages: list[dict[str, str]]) -> str:
        observations = [m["content"] for m in messages if m["role"] == "user"]
        first = observations[0] if observations else ""
        found = next((s for s in self._signatures if s and s in first), None)
        if found is None:
            raise PolicyError("the oracle was asked about a task it was not given")
        env_class, task = self._tasks[found]
        try:
            return env_class.reference_reply(task, observations)
        except ValueError:
            return "(the oracle knows no solution to this task)"
