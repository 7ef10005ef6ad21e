"""WebEnv's contract in the real web sandbox: Gymnasium API, observations, actions, errors as observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs import Task
from selfgym.envs.web.container import WEB_LIMITS
from selfgym.envs.web.elements import find
from selfgym.envs.web_env import WebEnv, web_image
from selfgym.sandbox import SandboxPool

pytestmark = pytest.mark.docker

SHOP_HOME = Task(id="t/shop-home", family="web", prompt="Look around the shop.", data={
    "category": "navigation", "sites": ["shop"], "start": "/",
    "check": {"url": "/cart"}, "reference": ['click(link "Cart (3)")', 'answer("done")']})


@pytest.fixture(scope="module")
def env():
    environment = WebEnv(max_steps=6)
    yield environment
    environment.close()


def test_check_env_passes_through_gym_make():
    environment = gym.make("selfgym/Web-v0", max_steps=3)
    try:
        check_env(environment.unwrapped, skip_render_check=True)
    finally:
        environment.close()


def test_observation_has_goal_url_and_tree_with_ids(env):
    observation, info = env.reset(options={"task": SHOP_HOME})
    assert "Goal: Look around the shop." in observation
    assert "URL: http://shop.localhost:7770/" in observation
    assert find(observation, "link", "Laptops") is not None
    assert find(observation, "textbox", "Search products") is not None
    assert info["url"] == "http://shop.localhost:7770/" and info["title"] == "Home · Harbor Goods"
    assert "click(ID)" in observation and "http://shop.localhost:7770/" in observation  # how to act, where


def test_same_seed_same_observation_and_ids_stay_stable(env):
    first, _ = env.reset(seed=5)
    second, _ = env.reset(seed=5)
    assert first == second
    laptops = find(second, "link", "Laptops")
    observation, *_ = env.step('type(%d, "kettle")' % find(second, "textbox", "Search products"))
    assert find(observation, "link", "Laptops") == laptops  # the same element keeps its id
    assert 'value="kettle"' in observation


def test_malformed_and_failing_actions_are_observations(env):
    observation, _ = env.reset(options={"task": SHOP_HOME})
    search = find(observation, "textbox", "Search products")
    cases = {
        "": "No action found",
        "click the big button": "No action found",
        "click(x)": "element id",
        "type(3)": "takes 2 argument",
        "scroll(left)": "up or down",
        "click(99999)": "There is no element [99999]",
        f'select({search}, "x")': "not a drop-down list",
        f"type({find(observation, 'link', 'Laptops')}, 'x')": "not a text field",
        'goto("http://example.com/")': "only open pages of this task's sites",
        'goto("http://shop.localhost:9222/json")': "only open pages of this task's sites",
        'goto("file:///etc/passwd")': "only open pages of this task's sites",
        "back()": "no previous page",
    }
    for action, expected in cases.items():
        observation, reward, terminated, truncated, info = env.step(action)
        assert expected in observation and expected in info["error"], (action, observation[:300])
        assert reward == 0.0 and not terminated
        if truncated:
            env.reset(options={"task": SHOP_HOME})
    for action in (b"\xff\xfe", 42, "x" * 10_000):
        env.reset(options={"task": SHOP_HOME})
        observation, reward, terminated, _, info = env.step(action)
        assert info["malformed"] and reward == 0.0 and not terminated


def test_a_stale_id_from_the_last_page_is_reported(env):
    observation, _ = env.reset(options={"task": SHOP_HOME})
    laptops = find(observation, "link", "Laptops")
    search = find(observation, "button", "Search")
    observation, *_ = env.step(f"click({laptops})")
    assert "URL: http://shop.localhost:7770/category/laptops" in observation
    observation, _, _, _, info = env.step(f"click({search})")
    assert "There is no element" in info["error"]


def test_goto_back_select_and_type_enter(env):
    observation, _ = env.reset(options={"task": SHOP_HOME})
    observation, *_ = env.step('goto("/category/audio")')
    assert "URL: http://shop.localhost:7770/category/audio" in observation
    observation, *_ = env.step(f'select({find(observation, "combobox", "Sort by")}, "price: low")')
    assert 'value="Price: low to high"' in observation
    observation, *_ = env.step(f'click({find(observation, "button", "Apply")})')
    assert "sort=price_asc" in observation.split("URL: ", 1)[1].split("\n", 1)[0]
    observation, *_ = env.step("back()")
    assert "URL: http://shop.localhost:7770/category/audio\n" in observation
    observation, *_ = env.step(f'type({find(observation, "textbox", "Search products")}, "lamp\\n")')
    assert "URL: http://shop.localhost:7770/search?q=lamp" in observation


def test_step_budget_truncates(env):
    env.reset(options={"task": SHOP_HOME})
    for step in range(1, 7):
        _, reward, terminated, truncated, info = env.step("scroll(down)")
        assert not terminated and truncated == (step == 6)


def test_long_pages_show_the_viewport_and_scroll_moves_it():
    wiki_home = Task(id="t/wiki-home", family="web", prompt="Read the list.", data={
        "category": "navigation", "sites": ["wiki"], "check": {"url": "/"}, "reference": ['answer("done")']})
    small = WebEnv(max_steps=8, viewport=(1000, 240))
    try:
        top, _ = small.reset(options={"task": wiki_home})
        assert "more elements below; scroll(down)" in top and "more elements above" not in top
        assert find(top, "link", "Atlas Wiki") is not None and find(top, "link", "Vellmar Glassworks") is None
        for _ in range(4):
            bottom, *_ = small.step("scroll(down)")
        assert "more elements above; scroll(up)" in bottom
        assert find(bottom, "link", "Atlas Wiki") is None and find(bottom, "link", "Vellmar Glassworks") is not None
        for _ in range(4):
            back_up, *_ = small.step("scroll(up)")
        assert find(back_up, "link", "Atlas Wiki") == find(top, "link", "Atlas Wiki")  # the same id as before
    finally:
        small.close()


def test_rgb_array_render_mode_gives_screenshots():
    viewer = WebEnv(max_steps=3, viewport=(640, 480), render_mode="rgb_array")
    try:
        _, info = viewer.reset(options={"task": SHOP_HOME})
        image = info["screenshot"]
        assert image.shape == (480, 640, 3) and image.dtype == np.uint8
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # a rendered page, not a blank
        assert viewer.render() is image
    finally:
        viewer.close()


def test_a_lost_sandbox_is_replayed_on_a_fresh_one(env, client):
    observation, _ = env.reset(options={"task": SHOP_HOME})
    env.step(f'click({find(observation, "link", "Laptops")})')
    client.api.kill(env.unwrapped._container.sandbox.container_id)  # the engine loses it: not the agent's doing
    observation, reward, terminated, _, info = env.step("scroll(down)")
    assert not terminated and info["infra_retries"] == 1
    assert "URL: http://shop.localhost:7770/category/laptops" in observation  # the click was replayed
    observation, _ = env.reset(options={"task": SHOP_HOME})
    assert find(observation, "link", "Laptops") is not None


def test_envs_take_their_web_sandbox_from_a_shared_pool(client):
    with SandboxPool(web_image(), size=1, limits=WEB_LIMITS, client=client) as pool:
        first = WebEnv(pool=pool, max_steps=3)
        first.reset(options={"task": SHOP_HOME})
        held = first.sandbox.container_id
        first.close()  # gives the sandbox back; its services ran in the container's network namespace, which no
        # reset renews: the pool replaces the container
        second = WebEnv(pool=pool, max_steps=3)
        try:
            observation, _ = second.reset(options={"task": SHOP_HOME})
            assert second.sandbox.container_id != held and pool.stats.replaced == 1  # a new one, services started
            observation, reward, terminated, _, _ = second.step(f'click({find(observation, "link", "Cart (3)")})')
            assert "URL: http://shop.localhost:7770/cart" in observation
        finally:
            second.close()
