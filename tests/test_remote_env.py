"""``selfgym/Remote-v0`` against ``selfgym env-server`` (a subprocess): Gymnasium's checker, the same rewards as the
local env on the same tasks, vector envs, tool calls, and what a lost server looks like to the client."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest
from env_servers import env_server
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401
from selfgym.agents import ScriptedPolicy, rollout
from selfgym.sandbox import InfrastructureError

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def math_server():
    with env_server("selfgym/Math-v0", "--max-sessions", "8", "--allow-custom-tasks") as server:
        yield server


@pytest.fixture(scope="module")
def code_server():
    with env_server("selfgym/Code-v0", "--max-sessions", "4") as server:
        yield server


def test_remote_env_passes_gymnasiums_checker(math_server, code_server):
    for server in (math_server, code_server):
        with warnings.catch_warnings(record=True) as caught:
            env = gym.make("selfgym/Remote-v0", url=server.url).unwrapped
            check_env(env, skip_render_check=True)
            env.close()
        assert not caught, [str(w.message) for w in caught]


def play(env, task_id: str, actions: list) -> list[tuple]:
    observation, info = env.reset(seed=3, options={"task_id": task_id})
    steps = [(observation, info["task_id"])]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        steps.append((observation, reward, terminated, truncated, info.get("passed"), info.get("error")))
        if terminated or truncated:
            break
    return steps


def test_the_same_rewards_as_the_local_env_on_the_same_tasks(code_server, pool):
    local = gym.make("selfgym/Code-v0", pool=pool)
    remote = gym.make("selfgym/Remote-v0", url=code_server.url)
    wrong = "```python\ndef f():\n    return 0\n```"
    try:
        for task_id in ("HumanEval/0", "HumanEval/13", "HumanEval/32", "HumanEval/163"):
            task = local.unwrapped.source.get(task_id)
            for actions in (local.unwrapped.reference_actions(task), [wrong, "", {"name": "submit_code",
                                                                                    "arguments": {"code": "x = ("}}],
                            [{"name": "submit_code", "arguments": {"code": task.data["canonical_solution"]}}]):
                assert play(remote, task_id, actions) == play(local, task_id, actions)
        assert remote.unwrapped.task.id == "HumanEval/163" and remote.unwrapped.task.prompt
    finally:
        local.close()
        remote.close()


def test_seeds_custom_tasks_and_truncation_follow_the_local_env(math_server):
    local, remote = gym.make("selfgym/Math-v0", max_steps=4), gym.make("selfgym/Remote-v0", url=math_server.url)
    try:
        for seed in range(5):  # a seed draws the same task there as here, and later resets follow from it
            assert remote.reset(seed=seed)[0] == local.reset(seed=seed)[0]
            assert remote.reset()[0] == local.reset()[0]
        task = selfgym.Task("mine/1", "custom", "What is 6 * 7?", data={"answer": "42"})
        for env in (local, remote):
            observation, info = env.reset(options={"task": task})
            assert info["task_id"] == "mine/1" and env.unwrapped.task == task
            steps = [env.step("I am thinking.") for _ in range(4)]
            assert [s[2:4] for s in steps] == [(False, False)] * 3 + [(False, True)]  # truncated, not terminated
            env.reset(options={"task": task.to_dict()})
            assert env.step({"name": "answer", "arguments": {"answer": "42"}})[1:3] == (1.0, True)
        with pytest.raises(gym.error.ResetNeeded):
            remote.step("after the end")
        with pytest.raises(ValueError, match="unknown reset option"):
            remote.reset(options={"task_ids": "x"})
    finally:
        local.close()
        remote.close()


def test_vector_envs_of_remote_envs(math_server):
    url = math_server.url  # what a worker process gets: the address, not the server
    make = [lambda: gym.make("selfgym/Remote-v0", url=url)] * 2
    expected = [gym.make("selfgym/Math-v0").unwrapped.reset(seed=seed)[1]["task_id"] for seed in (0, 1)]
    for vector in (gym.vector.SyncVectorEnv(make), gym.vector.AsyncVectorEnv(make)):
        try:
            observations, infos = vector.reset(seed=[0, 1])
            assert len(observations) == 2 and list(infos["task_id"]) == expected
            _, rewards, terminated, truncated, _ = vector.step(["\\boxed{0}", "\\boxed{0}"])
            assert list(terminated) == [True, True] and all(r in (0.0, 1.0) for r in rewards)
        finally:
            vector.close()


def test_a_scripted_tool_call_episode_through_the_server(math_server):
    env = gym.make("selfgym/Remote-v0", url=math_server.url)
    policy = ScriptedPolicy([{"name": "python", "arguments": {"code": "print(6 * 7)"}},
                             {"name": "answer", "arguments": {"answer": "42"}}])
    task = selfgym.Task("mine/2", "custom", "What is 6 * 7?", data={"answer": "42"})
    trajectory = rollout(env, policy, task, tools=True)
    env.close()
    assert [s.reward for s in trajectory.steps] == [0.0, 1.0] and "42" in trajectory.steps[0].observation
    assert [m["role"] for m in trajectory.messages[-4:]] == ["assistant", "tool", "assistant", "tool"]


def test_a_lost_server_is_an_infrastructure_error_for_the_client():
    with env_server("selfgym/Math-v0", "--max-sessions", "1") as server:
        env = gym.make("selfgym/Remote-v0", url=server.url)
        env.reset(seed=0)
        server.process.kill()
        server.process.wait()
        with pytest.raises(InfrastructureError, match="lost"):
            env.step("\\boxed{1}")
        with pytest.raises(InfrastructureError, match="cannot open a session"):
            env.reset(seed=0)
        env.close()


def test_a_web_episode_through_the_server():
    """Web-v0 too: its browser and sites run in the server's web sandbox, the page comes back as text."""
    from selfgym.envs.web_env import WebEnv

    with env_server("selfgym/Web-v0", "--max-sessions", "1") as server:
        env = gym.make("selfgym/Remote-v0", url=server.url)
        task = gym.make("selfgym/Web-v0").unwrapped.source.get("web/shop-001")
        observations = [env.reset(options={"task_id": task.id})[0]]
        terminated = truncated = False
        while not (terminated or truncated):
            observation, reward, terminated, truncated, _ = env.step(WebEnv.reference_reply(task, observations))
            observations.append(observation)
        env.close()
        assert reward == 1.0 and terminated
        assert server.wait_for(lambda s: s["sessions"] == s["envs_alive"] == s["sandboxes_in_use"] == 0)[
            "sessions"] == 0
