"""TextEnv, TaskList and read_jsonl: the parts every environment shares (no Docker needed)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from selfgym.envs import Task, TaskList, TextEnv, Turn, read_jsonl


class GuessEnv(TextEnv):
    """Guess the task's word; each wrong guess is told so."""

    uses_sandbox = False

    def __init__(self, **kwargs):
        tasks = [Task(f"w{i}", "guess", f"Guess word {i}", difficulty=i, data={"word": f"word{i}"}) for i in range(5)]
        super().__init__(TaskList(tasks, "guess"), max_steps=kwargs.pop("max_steps", 3), **kwargs)

    def _begin(self, task):
        return task.prompt, {"difficulty": task.difficulty}

    def _act(self, action):
        if action.strip() == self.task.data["word"]:
            return Turn("right", 1.0, True, {"correct": True})
        return Turn(f"{action!r} is wrong", 0.0, False, {"correct": False})


def test_reset_seeded_pinned_and_given_task():
    env = GuessEnv()
    first = [env.reset(seed=7)[1]["task_id"] for _ in range(1)] + [env.reset()[1]["task_id"] for _ in range(5)]
    again = [env.reset(seed=7)[1]["task_id"] for _ in range(1)] + [env.reset()[1]["task_id"] for _ in range(5)]
    assert first == again and len(set(first)) > 1
    assert env.reset(options={"task_id": "w3"})[0] == "Guess word 3"
    custom = Task("mine", "guess", "Guess mine", data={"word": "zebra"})
    obs, info = env.reset(options={"task": custom.to_dict()})
    assert obs == "Guess mine" and info["task_id"] == "mine"
    assert env.step("zebra")[1:4] == (1.0, True, False)
    with pytest.raises(KeyError, match="did you mean 'w1'"):
        env.reset(options={"task_id": "w11"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"level": 3})


def test_budget_truncates_and_step_after_end_needs_reset():
    env = GuessEnv(max_steps=2)
    env.reset(options={"task_id": "w0"})
    assert env.step("a")[2:4] == (False, False)
    _, reward, terminated, truncated, info = env.step("b")
    assert (reward, terminated, truncated, info["step"]) == (0.0, False, True, 2)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("word0")


@pytest.mark.parametrize("action, message", [
    (b"\xff\xfe junk", "not valid UTF-8"),
    ("x" * 70_000, "the limit is 64,000"),
    (12345, "must be text"),
    ("bad \udcff surrogate", "unpaired surrogates"),
    ("nul\x00byte", "NUL"),
])
def test_malformed_actions_are_observations(action, message):
    env = GuessEnv()
    env.reset(options={"task_id": "w1"})
    obs, reward, terminated, truncated, info = env.step(action)
    assert message in obs and reward == 0.0 and not terminated and info["malformed"]
    assert env.step("word1")[1] == 1.0  # the episode went on


def test_render_ansi_transcript_and_check_env():
    env = GuessEnv(render_mode="ansi")
    env.reset(options={"task_id": "w2"})
    env.step("nope")
    text = env.render()
    assert "== guess / w2 ==" in text and "[action]\nnope" in text and "'nope' is wrong" in text
    with pytest.raises(ValueError, match="render_mode"):
        GuessEnv(render_mode="human")
    check_env(GuessEnv(), skip_render_check=True)


def test_task_list_and_jsonl(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"q": "1+1", "a": "2"}) + "\n\n" + json.dumps({"q": "2+2", "a": "4"}) + "\n")
    to_task = lambda rec, n: Task(f"t{n}", "arith", rec["q"], data={"answer": rec["a"]})  # noqa: E731
    source = TaskList(read_jsonl(path, to_task), "arith")
    assert [t.prompt for t in source] == ["1+1", "2+2"] and len(source) == 2
    assert source.sample(np.random.default_rng(0)) in list(source)
    path.write_text(json.dumps({"q": "1+1", "a": "2"}) + "\n" + "[1, 2]\n")
    with pytest.raises(ValueError, match=r"tasks.jsonl:2: expected a JSON object"):
        read_jsonl(path, to_task)
    path.write_text('{"q": "no answer"}\n')
    with pytest.raises(ValueError, match=r"tasks.jsonl:1: 'a'"):
        read_jsonl(path, to_task)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_jsonl(tmp_path / "missing.jsonl", to_task)
    with pytest.raises(ValueError, match="two tasks with id"):
        TaskList([Task("a", "f", "p"), Task("a", "f", "q")], "f")


def test_async_vector_env_keeps_unicode_observations():
    # Shared memory must carry any Unicode text, not just the sample charset of gymnasium's Text.
    class EchoEnv(GuessEnv):
        def _begin(self, task):
            return f"héllo ✓ {task.id} 日本", {}

    envs = gym.vector.AsyncVectorEnv([EchoEnv, EchoEnv])
    try:
        observations, _ = envs.reset(seed=1, options={"task_id": "w4"})
        assert tuple(observations) == ("héllo ✓ w4 日本", "héllo ✓ w4 日本")
        observations, rewards, *_ = envs.step(["word4", "wrong ✗"])
        assert tuple(observations) == ("right", "'wrong ✗' is wrong") and list(rewards) == [1.0, 0.0]
    finally:
        envs.close()


def test_old_constructor_names_still_work_for_one_release_with_a_warning():
    from selfgym.envs.code_env import CodeEnv
    from selfgym.envs.math_env import MathEnv

    tasks = TaskList([Task("m/1", "m", "1 + 1?", data={"answer": "2"})], "m")
    with pytest.warns(DeprecationWarning, match="source= is deprecated.*use tasks="):
        math = MathEnv(source=tasks)
    assert math.source is tasks
    with pytest.warns(DeprecationWarning, match="max_attempts= is deprecated.*use max_steps="):
        code = CodeEnv(max_attempts=5)
    assert code.max_steps == 5
    math.close()
    code.close()
