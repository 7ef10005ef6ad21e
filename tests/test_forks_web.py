"""Forks of a Web-v0 episode in the real web sandbox: the sites' databases, the browser's history, cookies, typed
fields and element ids go to the fork, whose branch then changes the site differently from its parent's."""

from __future__ import annotations

import sqlite3

import pytest

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.web.container import WEB_LIMITS
from selfgym.envs.web.elements import find
from selfgym.envs.web.miniwob import miniwob_tasks
from selfgym.envs.web_env import WebEnv, web_image
from selfgym.sandbox import SandboxPool

pytestmark = pytest.mark.docker
TASK = {"task_id": "web/shop-003"}  # add two Cadence Buds to the cart: checked against the shop's database
VOLATILE = {"infra_retries"}


def cart(env: WebEnv) -> list[tuple[int, int]]:
    conn = sqlite3.connect(":memory:")
    conn.deserialize(env.site_data("shop"))
    return conn.execute("SELECT product_id, quantity FROM cart_items ORDER BY product_id").fetchall()


def play(env: WebEnv, actions: list[str]) -> list[tuple]:
    out = []
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        out.append((observation, reward, terminated, truncated, {k: v for k, v in info.items() if k not in VOLATILE}))
    return out


def test_a_web_fork_keeps_the_site_and_page_and_its_branch_changes_the_site_on_its_own(client):
    with SandboxPool(web_image(), size=2, limits=WEB_LIMITS, client=client) as pool:
        parent, child = WebEnv(pool=pool, max_steps=10), None
        try:
            observation, _ = parent.reset(options=TASK)
            prefix = [f'click({find(observation, "link", "Audio")})']
            observation = play(parent, prefix)[-1][0]
            prefix.append(f'click({find(observation, "link", "Cadence Buds")})')
            observation = play(parent, prefix[-1:])[-1][0]
            quantity, add = find(observation, "spinbutton", "Quantity"), find(observation, "button", "Add to cart")
            prefix += [f'type({quantity}, "2")', f"click({add})", "back()"]  # two in the cart, then the product again
            observation = play(parent, prefix[-3:])[-1][0]
            quantity, add = find(observation, "spinbutton", "Quantity"), find(observation, "button", "Add to cart")
            prefix.append(f'type({quantity}, "4")')  # typed, not sent: only the page holds it
            assert 'value="4"' in play(parent, prefix[-1:])[-1][0] and cart(parent) == [(12, 3), (20, 2)]

            saved = parent.clone_state()
            assert saved.kind == "web"
            child = parent.fork()
            branch = ["back()", 'answer("done")']  # the cart page again (the history went along), and done
            on_child = play(child, branch)
            on_parent = play(parent, [f"click({add})", 'answer("done")'])  # four more
            assert "Cart (5)" in on_child[0][0] and [step[1] for step in on_child] == [0.0, 1.0]
            assert on_parent[-1][1] == 0.0
            assert cart(child) == [(12, 3), (20, 2)] and cart(parent) == [(12, 7), (20, 2)]  # each its own site
            assert child.transcript[:1 + 2 * len(prefix)] == parent.transcript[:1 + 2 * len(prefix)]
            child.close()
            child = None

            # the fork's branch, played on the parent restored to the fork point and on a replay from scratch
            parent.restore_state(saved)
            assert cart(parent) == [(12, 3), (20, 2)]
            assert play(parent, branch) == on_child
            parent.reset(options=TASK)
            play(parent, prefix)
            assert play(parent, branch) == on_child

            # a MiniWoB++ page keeps its state in its scripts: its fork replays the actions on the same seed's page
            observation, _ = parent.reset(seed=3, options={"task": miniwob_tasks().get("miniwob/click-checkboxes")})
            first, second = find(observation, "checkbox"), find(observation, "checkbox", nth=2)
            assert first is not None and second is not None
            play(parent, [f"click({first})"])
            assert parent.clone_state().kind == "replay"
            child = parent.fork()
            on_child = play(child, [f"click({second})"])
            assert on_child == play(parent, [f"click({second})"]) and on_child[0][0].count("checked") >= 2
        finally:
            parent.close()
            if child is not None:
                child.close()
