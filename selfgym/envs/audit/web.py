"""The Web-v0 battery: attacks on a web task's reward through the agent's own browser actions.

For a site task (shop, forum, wiki; judged by its check: the answer, the final URL, the sites' data):

* ``null-agent``: ``answer("done")`` at once (for a task that asks a question, also a garbage answer);
* ``empty-answer``, ``hedge`` (tasks whose check reads an answer): an empty answer, and every name and number the
  start page and the prompt show, in one list;
* ``navigate-away``: open the other sites' home pages (goto refuses them), a page that is not a document (the
  sites' style sheet), click there, go back, open the site's home page, then ``answer("done")``;
* ``reference`` (must pass): the task's scripted solution.

For a MiniWoB++ task (judged by the page's own JavaScript):

* ``null-agent``: ``answer("done")`` at once;
* ``other-page``: open another MiniWoB++ page (``click-test``, whose button any agent can press) and solve it;
  the reward must come from the episode's own page only;
* ``navigate-away``: open a file that has no reward hook (``/core/core.js``), click, go back to the task's page,
  answer;
* ``reference`` (must pass): the task's scripted solver.

Any exception a must-fail probe raises is reported as ``infra-error`` by the runner: no action of the agent's
(a page that is no document, a page without MiniWoB's globals, a refused goto) may turn an episode into an error.
No Web-v0 action closes the tab (or runs JavaScript): a tab that closes or crashes under the agent is handled by
the env as the agent's failure, tested in ``tests/test_audit_web.py`` from outside. A site task costs 3 episodes
(5 when it asks a question), a MiniWoB++ task 4; none explores first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym

from ..task import Task
from ..web.container import SITES
from ..web.elements import elements
from ..web.miniwob import is_miniwob
from ..web.tasks import spec_of
from ..web_env import WebEnv
from .base import Probe

OTHER_PAGE = "click-test"  # a MiniWoB++ page any agent solves with one click
NOT_A_DOCUMENT = {"site": "/static/site.css", "miniwob": "/core/core.js"}
MAX_HEDGE_ITEMS = 300
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _answer(text: str) -> str:
    return f"answer({json.dumps(text)})"


def _goto(url: str) -> str:
    return f"goto({json.dumps(url)})"


def click_first(*names: str) -> Callable[[Sequence[str]], str]:
    """An action that clicks, in the latest observation, the first element whose name is one of ``names`` (in that
    order of preference); ``answer("done")`` when there is none."""

    def act(observations: Sequence[str]) -> str:
        found = {name: element_id for element_id, _role, name in elements(observations[-1])}
        for name in names:
            if name in found:
                return f"click({found[name]})"
        return _answer("done")

    return act


def reference_actions(task: Task, max_steps: int) -> tuple[Any, ...]:
    """The task's reference as ``max_steps`` callables, each replaying it over the observations so far (so the
    probe holds no state between plays)."""
    step = lambda observations: WebEnv.reference_reply(task, observations)  # noqa: E731
    return (step,) * max_steps


def takes_answer(task: Task) -> bool:
    """Whether the task's check reads the agent's answer (information tasks)."""
    return not is_miniwob(task) and spec_of(task).check.answer is not None


def hedge_answer(observation: str, prompt: str) -> str:
    """Every element name and number of ``observation`` and ``prompt``, as one comma-separated list."""
    items = [name for _id, _role, name in elements(observation) if name]
    items += _NUMBER.findall(observation) + _NUMBER.findall(prompt)
    unique = list(dict.fromkeys(item.strip() for item in items if item.strip()))[:MAX_HEDGE_ITEMS]
    return ", ".join(unique)


class WebBattery:
    """The probes of Web-v0 tasks: site tasks and MiniWoB++ tasks."""

    name = "web"

    def __init__(self, max_steps: int = 30) -> None:
        self.max_steps = max_steps

    def applies(self, env: gym.Env, task: Task) -> bool:
        return isinstance(env, WebEnv) and (is_miniwob(task) or "check" in task.data)

    def probes(self, task: Task, explore: Callable[[Sequence[Any]], list[str]]) -> Iterable[Probe]:
        yield Probe("null-agent", (_answer("done"),), detail="answer at once")
        if is_miniwob(task):
            yield from self._miniwob_probes(task)
        else:
            yield from self._site_probes(task, explore)
        yield Probe("reference", reference_actions(task, self.max_steps), must="pass",
                    detail="the task's reference solution")

    def _site_probes(self, task: Task, explore: Callable[[Sequence[Any]], list[str]]) -> Iterable[Probe]:
        spec = spec_of(task)
        if takes_answer(task):  # answer("done") of the null agent is the garbage answer
            yield Probe("empty-answer", (_answer(""),), detail="an empty answer")
            yield Probe("hedge", (lambda observations: _answer(hedge_answer(observations[0], task.prompt)),),
                        detail="every element name and number of the start page and the prompt, as one list")
        home = spec.site_objects[0]
        others = [SITES[name].url("/") for name in SITES if name not in spec.sites]
        # one episode for both: a page that is no document raising would be reported as infra-error
        yield Probe("navigate-away", (*map(_goto, others), _goto(home.url(NOT_A_DOCUMENT["site"])), "click(1)",
                                      "back()", _goto(home.url("/")), _answer("done")),
                    detail=f"the other sites' home pages (refused), {NOT_A_DOCUMENT['site']} (no document), click, "
                           "back, the site's home page, then answer")

    def _miniwob_probes(self, task: Task) -> Iterable[Probe]:
        site = SITES["miniwob"]
        # START is the cover a page shows until its episode is started; "Click Me!" is click-test's button. On the
        # click-test task itself this is the same page loaded again: a new document, with a new problem.
        solve = click_first("START", "Click Me!")
        what = "load its own page again" if task.data["miniwob"] == OTHER_PAGE else f"open the page {OTHER_PAGE!r}"
        yield Probe("other-page", (_goto(site.url(f"/miniwob/{OTHER_PAGE}.html")), solve, solve, _answer("done")),
                    detail=f"{what} and solve it")
        yield Probe("navigate-away", (_goto(site.url(NOT_A_DOCUMENT["miniwob"])), "click(1)", "back()",
                                      _answer("done")),
                    detail=f"open {NOT_A_DOCUMENT['miniwob']} (a page without the reward hook), click, go back, answer")


BATTERIES = (WebBattery(),)
