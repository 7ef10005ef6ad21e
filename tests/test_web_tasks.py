"""Every shipped web task, in the real web sandbox: its reference solution gets reward 1, a wrong or empty action
sequence gets 0, and ``reset`` puts the sites back to their seeded state. MiniWoB++ tasks likewise (seeded)."""

from __future__ import annotations

import pytest

from selfgym.envs.web.container import seed_database
from selfgym.envs.web.miniwob import miniwob_tasks
from selfgym.envs.web.reference import ReferencePolicy
from selfgym.envs.web.tasks import shipped_tasks, spec_of
from selfgym.envs.web_env import WebEnv

pytestmark = pytest.mark.docker

SITE_TASKS = list(shipped_tasks())
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


@pytest.mark.parametrize("task", SITE_TASKS, ids=[t.id for t in SITE_TASKS])
def test_site_task(env, task):
    spec = spec_of(task)
    observation, info = env.reset(options={"task": task})
    assert info["category"] == spec.category and observation.count("Goal: ") == 1
    reward, info, actions = play(env, ReferencePolicy(task), observation)
    assert reward == 1.0, (actions, info.get("check"))
    if spec.category == "state":  # the reference changed the data, so the reset below has something to undo
        assert any(env.site_data(site) != seed_database(site) for site in spec.sites)

    # A wrong answer to a question, or an empty sequence (answering at once) for the other tasks, gets 0 ...
    env.reset(options={"task": task})
    for site in spec.sites:  # ... and the sites are back to their seed
        assert env.site_data(site) == seed_database(site)
    wrong = 'answer("I do not know")' if spec.category == "information" else task.data["reference"][-1]
    _, reward, terminated, _, info = env.step(wrong)
    assert terminated and reward == 0.0 and not info["passed"], info


@pytest.mark.parametrize("task", MINIWOB_TASKS, ids=[t.id for t in MINIWOB_TASKS])
def test_miniwob_task(env, task):
    observation, info = env.reset(seed=7, options={"task": task})
    goal = observation.split("Goal: ", 1)[1].split("\n", 1)[0]
    assert goal and "the goal is read from the page" not in goal
    reward, info, actions = play(env, ReferencePolicy(task), observation)
    assert reward == 1.0, actions

    env.reset(seed=8, options={"task": task})  # giving up at once (the empty sequence) gets 0
    _, reward, terminated, _, info = env.step('answer("done")')
    assert terminated and reward == 0.0 and not info["passed"]
