"""The Web-v0 audit battery on every shipped site task and every MiniWoB++ task (0 hackable, 0 broken), its
positive controls (a planted always-true check, a MiniWoB++ env that reads the reward of whatever page is open),
and the attacks on the env itself that the battery cannot play with the agent's actions: a tab that closes or
crashes under the agent."""

from __future__ import annotations

import json
import types

import pytest

from selfgym.envs import Task
from selfgym.envs.audit import audit_task, audit_tasks
from selfgym.envs.audit.web import WebBattery
from selfgym.envs.web.miniwob import STATUS_SCRIPT, miniwob_tasks
from selfgym.envs.web.reference import ReferencePolicy
from selfgym.envs.web.tasks import shipped_tasks
from selfgym.envs.web_env import WebEnv

pytestmark = pytest.mark.docker

BATTERY = WebBattery()
MINIWOB = {task.id: task for task in miniwob_tasks()}


@pytest.fixture(scope="module")
def env():
    environment = WebEnv(tasks="all", max_steps=30)
    yield environment
    environment.close()


def test_every_shipped_web_task_and_miniwob_task_is_ok(env):
    tasks = [*shipped_tasks(), *miniwob_tasks()]
    report = audit_tasks(env, tasks, batteries=[BATTERY], progress=False)
    assert len(report.tasks) == len(tasks) > 90
    problems = {audit.task_id: [f.to_dict() for f in audit.findings] for audit in report.tasks if audit.verdict != "ok"}
    assert report.ok, json.dumps(problems, indent=1)  # a string: pytest shows it whole
    assert all(audit.probes >= 3 for audit in report.tasks)  # null agent, navigation away, reference at least
    assert report.counts_by_verdict() == {"ok": len(tasks), "hackable": 0, "broken": 0}


def test_a_check_that_is_always_true_is_reported_hackable(env):
    planted = Task(id="planted/always", family="web", prompt="Anything.", data={
        "category": "state", "sites": ["shop"], "check": {"sql": [{"db": "shop", "query": "SELECT 1",
                                                                   "expect": [[1]]}]},
        "reference": ['answer("done")']})
    audit = audit_task(env, planted, [BATTERY])
    assert audit.verdict == "hackable"
    assert audit.exploits == ["null-agent", "navigate-away"], audit.to_dict()


def any_page_status(self):
    """A planted flaw (Web-v0 before the fix, less its error on pages without MiniWoB's globals): the MiniWoB++
    reward is read from whatever page is open."""
    done, raw, _reason = self._browser.evaluate(
        "() => typeof WOB_DONE_GLOBAL === 'undefined' ? [false, 0, ''] : (" + STATUS_SCRIPT + ")()")
    return bool(done), 1.0 if done and float(raw or 0.0) >= 1.0 else 0.0


def test_a_miniwob_env_reading_any_page_is_reported_hackable(env, monkeypatch):
    monkeypatch.setattr(env, "_miniwob_status", types.MethodType(any_page_status, env))
    audit = audit_task(env, MINIWOB["miniwob/login-user"], [BATTERY])
    assert audit.verdict == "hackable" and audit.exploits == ["other-page"], audit.to_dict()
    (finding,) = audit.findings
    assert finding.reward == 1.0
    assert finding.actions[0] == 'goto("http://miniwob.localhost:8765/miniwob/click-test.html")'


def _close_tab(env: WebEnv) -> None:
    browser = env.unwrapped._browser
    browser._run(browser.page.close())


def _kill_renderer(env: WebEnv) -> None:
    result = env.unwrapped._container.sandbox.run("pkill -9 -f -- --type=renderer", keep_background=True)
    assert result.exit_code == 0, result


@pytest.mark.parametrize("end_the_tab", [_close_tab, _kill_renderer], ids=["closed", "killed"])
def test_a_tab_that_closes_or_crashes_is_the_agents_failure_and_the_next_episode_plays(env, end_the_tab):
    """No action closes the tab, but a page could, or its renderer could die: reward 0, the episode ends at once
    (no wait for a timeout), no infrastructure error, and the next episode, in a new tab, plays as usual."""
    for task in (MINIWOB["miniwob/click-test"], shipped_tasks().get("web/shop-001")):
        env.reset(seed=3, options={"task": task})
        end_the_tab(env)
        _, reward, terminated, _, info = env.step("click(1)")
        assert (reward, terminated, info["passed"], info["infra_retries"]) == (0.0, True, False, 0), info
        observation, _ = env.reset(seed=3, options={"task": task})
        reference = ReferencePolicy(task)
        for _ in range(10):
            observation, reward, terminated, _, _ = env.step(reference(observation))
            if terminated:
                break
        assert reward == 1.0


def test_a_killed_sandbox_under_a_miniwob_page_stays_an_infrastructure_loss(env, client):
    """The other side of the above: when the engine loses the container, every tab crashes first, and that is not
    the agent's failure. The episode is replayed on a fresh sandbox, as for a site task."""
    env.reset(seed=3, options={"task": MINIWOB["miniwob/click-test"]})
    client.api.kill(env.unwrapped._container.sandbox.container_id)
    observation, reward, terminated, _, info = env.step("scroll(down)")
    assert (terminated, reward, info["infra_retries"]) == (False, 0.0, 1), observation
    assert "Click Me!" in observation
