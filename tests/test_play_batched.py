"""The one batched-play loop and its one replay path (``play_batched``, under ``rollout_many``, every method's
``play``, Reflexion, self-training and GRPO): chunks of ``len(envs)`` episodes, and each episode lost to the
infrastructure played again with its own task and seed, up to ``INFRA_REPLAYS`` times."""

from __future__ import annotations

from collections import Counter

from selfgym.agents.policy import ScriptedPolicy
from selfgym.agents.rollout import INFRA_REPLAYS, play_batched, rollout_many
from selfgym.envs import Task, TaskList, TextEnv, Turn
from selfgym.sandbox import InfrastructureError

LOSSES = {"flaky": 1, "doomed": 99}  # task id -> how many of its episodes the "infrastructure" loses


class FlakyEnv(TextEnv):
    """One-step episodes; the first LOSSES[id] episodes of a task die of an infrastructure error."""

    uses_sandbox = False

    def __init__(self, played: Counter):
        super().__init__(TaskList([Task("x", "f", "say ok")], "f"), max_steps=1)
        self.played = played

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        self.played[self.task.id] += 1
        if self.played[self.task.id] <= LOSSES.get(self.task.id, 0):
            raise InfrastructureError(f"lost {self.task.id} #{self.played[self.task.id]}")
        return Turn("ok", 1.0, True)


def test_lost_episodes_are_played_again_with_their_task_and_seed_then_kept_as_errors():
    played: Counter = Counter()
    envs = [FlakyEnv(played), FlakyEnv(played)]
    tasks = [Task(name, "f", "say ok") for name in ("a", "flaky", "b", "doomed", "c")]
    chunks = []
    trajectories = rollout_many(envs, ScriptedPolicy(["ok"], cycle=True), tasks, seeds=[10, 11, 12, 13, 14],
                                after_chunk=lambda chunk: chunks.append([t.task.id for t in chunk]))
    assert chunks == [["a", "flaky"], ["b", "doomed"], ["c"]]  # len(envs) at a time, in order
    by_id = {t.task.id: t for t in trajectories}
    assert [t.task.id for t in trajectories] == ["a", "flaky", "b", "doomed", "c"]
    assert by_id["flaky"].success and by_id["flaky"].error is None and by_id["flaky"].seed == 11
    assert by_id["flaky"].meta["infra_replays"] == 1 and by_id["flaky"].meta["infra_errors"] == ["lost flaky #1"]
    doomed = by_id["doomed"]
    assert doomed.error is not None and not doomed.success and doomed.seed == 13
    assert doomed.meta["infra_replays"] == INFRA_REPLAYS and len(doomed.meta["infra_errors"]) == INFRA_REPLAYS
    assert played["doomed"] == INFRA_REPLAYS + 1 and played["a"] == 1 and "infra_replays" not in by_id["a"].meta


def test_play_batched_gives_each_replay_its_chunk_start():
    calls = []

    class Lost:
        def __init__(self, error):
            self.error, self.meta = error, {}

    def play(envs, jobs, start):
        calls.append((len(envs), jobs, start))
        return [Lost("gone" if job == 2 and len(calls) < 3 else None) for job in jobs]

    results = play_batched(["env"] * 2, 3, play)
    assert calls == [(2, [0, 1], 0), (1, [2], 2), (1, [2], 2)]
    assert results[2].error is None and results[2].meta["infra_replays"] == 1
