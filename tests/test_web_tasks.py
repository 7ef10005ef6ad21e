"""Shipped web tasks in the real web sandbox: ``reset`` puts the sites back to their seeded state after a task that
changes them, and every MiniWoB++ task shows its goal. That each task's reference gets 1 and the null agent, hedges,
wrong answers and navigation away get 0 is the audit gate's (``tests/test_audit_web.py``)."""

from __future__ import annotations

import pytest

from selfgym.envs.web.container import seed_database
from selfgym.envs.web.miniwob import miniwob_tasks
from selfgym.envs.web.reference import ReferencePolicy
from selfgym.envs.web.tasks import shipped_tasks, spec_of
from selfgym.envs.web_env import WebEnv

pytestmark = pytest.mark.docker

STATE_TASKS = [task for task in shipped_tasks() if spec_of(task).category == "state"]
MINIWOB_TASKS = list(miniwob_tasks())


@pytest.fixture(scope="module")
def env():
    environment = WebEnv(tasks="all", max_steps=25)
    yield environment
    environment.close()


def play(env: WebEnv, policy, observation: str) -> tuple[float, dict, list[str]]:
    """Run ``policy`` until the episode ends; returns the last reward, info and the actions sent."""
    actions = []
    while True:
        actions.append(policy(observation))
        observation, reward, terminated, truncated, info = env.step(actions[-1])
        assert not info.get("browser_lost"), info
        if terminated or truncated:
            return reward, info, actions


@pytest.mark.parametrize("task", STATE_TASKS, ids=[t.id for t in STATE_TASKS])
def test_a_reset_undoes_what_a_state_task_changed(env, task):
    spec = spec_of(task)
    observation, info = env.reset(options={"task": task})
    assert info["category"] == "state" and observation.count("Goal: ") == 1
    reward, info, actions = play(env, ReferencePolicy(task), observation)
    assert reward == 1.0, (actions, info.get("check"))
    assert any(env.site_data(site) != seed_database(site) for site in spec.sites)  # something for the reset to undo

    env.reset(options={"task": task})
    for site in spec.sites:
        assert env.site_data(site) == seed_database(site)
    _, reward, terminated, _, info = env.step(task.data["reference"][-1])  # the last step alone does not do it
    assert terminated and reward == 0.0 and not info["passed"], info


@pytest.mark.parametrize("task", MINIWOB_TASKS, ids=[t.id for t in MINIWOB_TASKS])
def test_miniwob_task_shows_its_goal(env, task):
    observation, _ = env.reset(seed=7, options={"task": task})
    goal = observation.split("Goal: ", 1)[1].split("\n", 1)[0]
    assert goal and "the goal is read from the page" not in goal
