"""Rollouts, trajectories (JSONL) and Reflexion, on the real Code-v0 and Shell-v0 envs with scripted policies."""

from __future__ import annotations

import gymnasium as gym
import pytest

from selfgym.agents.policy import Completion, ContextLengthError, Policy, ScriptedPolicy
from selfgym.agents.reflexion import Reflexion, ReflexionConfig
from selfgym.agents.rollout import rollout, rollout_batch
from selfgym.agents.trajectory import append_jsonl, read_jsonl

pytestmark = pytest.mark.docker

WRONG = "```python\ndef truncate_number(number: float) -> float:\n    return 0.0\n```"
RIGHT = "```python\ndef truncate_number(number: float) -> float:\n    return number % 1.0\n```"
HINT = "Use number % 1.0 (hint-7f3a)"


def test_rollout_batch_shares_a_pool_and_records_everything(pool, tmp_path):
    envs = [gym.make("selfgym/Shell-v0", pool=pool) for _ in range(2)]
    try:
        task = envs[0].unwrapped.source.get("shell/text-005")
        solution = list(task.data["solution"])
        oracle = ScriptedPolicy(lambda messages: solution[sum(m["role"] == "assistant" for m in messages)])
        lazy = ScriptedPolicy(["submit"], cycle=True)
        solved, = rollout_batch(envs[:1], oracle, [task], seeds=[0])
        failed, skipped = rollout_batch(envs, lazy, [task, None], seeds=[0, 5])
    finally:
        for env in envs:
            env.close()
    assert solved.success and [s.action for s in solved.steps] == solution
    assert not failed.success and failed.final_reward == 0.0 and len(failed.steps) == 1
    assert skipped.task.family == "shell"  # drawn by the env with its seed
    assert solved.messages[0]["role"] == "system" and solved.messages[1]["content"].startswith(task.prompt[:20])
    assert [m["role"] for m in solved.messages[1:]] == ["user", "assistant"] * len(solution) + ["user"]
    assert all(step.env_seconds > 0 for step in solved.steps)

    path = tmp_path / "episodes.jsonl"
    append_jsonl(path, [solved, failed])
    with path.open("a") as fh:
        fh.write('{"task": {"id": "torn"')  # a write cut by a kill
    loaded = list(read_jsonl(path))
    assert [t.success for t in loaded] == [True, False] and loaded[0].steps == solved.steps
    assert loaded[0].task == task


def test_reflexion_memory_reaches_the_next_trial_and_success_is_recorded(pool):
    def actor(messages):  # solves the task only when the reflection's hint is in its prompt
        return RIGHT if HINT in messages[1]["content"] else WRONG

    reflector = ScriptedPolicy([HINT], cycle=True)
    envs = [gym.make("selfgym/Code-v0", pool=pool)]
    task = envs[0].unwrapped.source.get("HumanEval/2")
    try:
        reflexion = Reflexion(ScriptedPolicy(actor), reflector, ReflexionConfig(trials=3))
        result, = reflexion.run(envs, [task])
    finally:
        envs[0].close()
    assert [t.success for t in result.trajectories] == [False, True]  # stops once solved
    second_prompt = result.trajectories[1].messages[1]["content"]
    assert second_prompt.startswith("Your memory for the task below:\nTrial 1: " + HINT)
    assert "Your previous attempt:" in second_prompt and "return 0.0" in second_prompt
    assert "assert truncate_number(3.5) == 0.5" in second_prompt  # the env's feedback on it
    assert result.trajectories[1].meta == {"policy": "scripted", "method": "reflexion", "trial": 2,
                                           "memory": [HINT]}
    assert "The attempt failed" in reflector.calls[0][-1]["content"]
    assert list(Reflexion.success_by_trial([result], 3)) == [0.0, 1.0, 1.0]


def test_reflexion_keeps_the_last_memory_size_reflections(pool):
    reflector = ScriptedPolicy([f"reflection {i}" for i in range(1, 4)])
    envs = [gym.make("selfgym/Code-v0", pool=pool)]
    task = envs[0].unwrapped.source.get("HumanEval/2")
    try:
        config = ReflexionConfig(trials=4, memory_size=2, include_last_attempt=False)
        result, = Reflexion(ScriptedPolicy([WRONG], cycle=True), reflector, config).run(envs, [task])
    finally:
        envs[0].close()
    assert len(result.trajectories) == 4 and not result.success
    assert len(reflector.calls) == 3  # none after the last trial
    last_prompt = result.trajectories[3].messages[1]["content"]
    assert "Trial 2: reflection 2\nTrial 3: reflection 3\n" in last_prompt and "reflection 1" not in last_prompt
    assert "Your previous attempt" not in last_prompt


def test_rollout_single_env_max_turns(pool):
    env = gym.make("selfgym/Shell-v0", pool=pool)
    try:
        trajectory = rollout(env, ScriptedPolicy(["pwd"], cycle=True), seed=3, max_turns=2, system_prompt=None)
    finally:
        env.close()
    assert len(trajectory.steps) == 2 and trajectory.messages[0]["role"] == "user"
    assert "/work" in trajectory.steps[0].observation


class TooLongAtOnce(Policy):
    """Answers "ok" to every conversation shorter than 3 messages; refuses a batch with a longer one, naming its
    positions (``says_which``) or not, as a server or a local model does."""

    def __init__(self, says_which: bool) -> None:
        super().__init__()
        self.says_which, self.batches = says_which, []

    def _complete(self, conversations, sampling):
        self.batches.append(len(conversations))
        long = [i for i, c in enumerate(conversations) if len(c) >= 3]
        if long:
            raise ContextLengthError("too long", indices=long if self.says_which else None)
        return [Completion("ok") for _ in conversations]


@pytest.mark.parametrize("says_which", [True, False])
def test_a_conversation_too_long_gets_no_reply_and_the_others_are_answered(says_which):
    from selfgym.agents.rollout import fitting_replies

    short, long = [{"role": "user", "content": "hi"}], [{"role": "user", "content": "hi"}] * 3
    policy, told = TooLongAtOnce(says_which), []
    replies = fitting_replies(policy, [short, long, short], None, on_too_long=lambda i, e: told.append(i))
    assert [r.text if r else None for r in replies] == ["ok", None, "ok"] and told == [1]
    assert policy.batches == ([3, 2] if says_which else [3, 1, 1, 1])
    assert fitting_replies(policy, [], None) == []
