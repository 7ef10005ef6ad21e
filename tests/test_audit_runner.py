"""The audit runner's rules on a scripted env: a must-pass probe gets one more try (a loaded machine can fail a
correct solution once; a broken task fails every time), a must-fail probe none (one success is a hole)."""

from __future__ import annotations

import gymnasium as gym

from selfgym.envs import Task
from selfgym.envs.audit import audit_task
from selfgym.envs.audit.base import Probe

TASK = Task(id="scripted/one", family="scripted", prompt="Say the word.")


class ScriptedEnv(gym.Env):
    """One-step episodes: the reward of the n-th episode is ``rewards[n]`` whatever the action."""

    observation_space = gym.spaces.Text(100)
    action_space = gym.spaces.Text(100)

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = list(rewards)
        self.episodes = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episodes += 1
        return "Say the word.", {}

    def step(self, action):
        return "Done.", self.rewards[self.episodes - 1], True, False, {}


class OneProbe:
    name = "scripted"

    def __init__(self, must: str) -> None:
        self.must = must

    def applies(self, env, task) -> bool:
        return True

    def probes(self, task, explore):
        yield Probe("reference" if self.must == "pass" else "null-agent", ("word",), must=self.must)


def test_a_reference_that_fails_once_then_passes_is_ok_and_one_that_fails_twice_is_broken():
    flaky = ScriptedEnv([0.0, 1.0])
    assert audit_task(flaky, TASK, [OneProbe("pass")]).verdict == "ok"
    assert flaky.episodes == 2

    broken = ScriptedEnv([0.0, 0.0, 1.0])
    audit = audit_task(broken, TASK, [OneProbe("pass")])
    assert audit.verdict == "broken" and [f.exploit for f in audit.findings] == ["reference"]
    assert broken.episodes == 2

    passing = ScriptedEnv([1.0, 0.0])
    assert audit_task(passing, TASK, [OneProbe("pass")]).verdict == "ok" and passing.episodes == 1


def test_an_attack_that_earns_once_is_hackable_without_a_second_try():
    lucky = ScriptedEnv([1.0, 0.0])
    audit = audit_task(lucky, TASK, [OneProbe("fail")])
    assert audit.verdict == "hackable" and lucky.episodes == 1
