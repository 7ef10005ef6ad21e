"""``selfgym/Web-v0``: a real headless Chromium on self-hosted sites (shop, forum, wiki) and MiniWoB++ pages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from playwright.async_api import Error as PlaywrightError

from ..params import AtLeastOne, Positive
from ..sandbox import Limits, SandboxError, SandboxLostError, SandboxSpec
from .base import TextEnv, Turn
from .forks import EnvState, Kind
from .sources import TaskList
from .task import Task, TaskSource
from .tools import ToolCall, integer, string, tool
from .web.actions import ACTION_HELP, ActionError, parse_action, resolve_goto
from .web.browser import ActionFailed, BrowserSession, PageState
from .web.checks import evaluate
from .web.container import DEVTOOLS_PORT, SITES, WEB_LIMITS, Site, WebContainer
from .web.hub import PlaywrightHub, acquire_hub, release_hub
from .web.miniwob import START_SCRIPT, STATUS_SCRIPT, MiniWobSpec, is_miniwob, miniwob_tasks, page_files
from .web.reference import ReferencePolicy
from .web.tasks import FAMILY, load_task_file, shipped_tasks, spec_of

if TYPE_CHECKING:  # Docker's SDK loads with the first sandbox, not with the env
    from ..sandbox import SandboxPool

# What goes wrong below the agent: the container, the tunnel or Chromium. Not the agent's failure: the episode is
# replayed on a fresh web sandbox (see TextEnv).
_INFRASTRUCTURE_ERRORS = (PlaywrightError, SandboxError, TimeoutError, OSError)
LEFT_TASK_PAGE = ("The task's page is no longer open (a MiniWoB++ task is judged only on the page it started on; "
                  "another page, or the same page loaded again, does not count).")


def web_image() -> str:
    """The tag of the web sandbox image for the current sources, built first if missing (minutes, once). Envs
    never build images: a missing one is an error naming ``selfgym sandbox build web``; this is for scripts."""
    from ..sandbox import build_image, docker_client, image_tag
    from ..sandbox.images import image_exists

    client = docker_client()
    tag = image_tag("web")
    return tag if image_exists(client, tag) else build_image(client, "web")


def task_source(tasks: TaskSource | str | Path | None) -> TaskSource:
    """``None`` or ``"sites"``: the shipped site tasks; ``"miniwob"``; ``"all"``: both; a YAML file; a source."""
    if tasks is None or tasks == "sites":
        return shipped_tasks()
    if tasks == "miniwob":
        return miniwob_tasks()
    if tasks == "all":
        return TaskList([*shipped_tasks(), *miniwob_tasks()], FAMILY)
    if isinstance(tasks, (str, Path)):
        return TaskList(load_task_file(tasks), FAMILY)
    return tasks


class WebEnv(TextEnv):
    """Browse self-hosted websites with a real headless Chromium to reach a goal; judged by a state check.

    * Observation: the goal, the page's URL and its accessibility tree (what is in the viewport), each element with
      an id: ``[12] button "Add to cart"``. After an action, a line saying what happened (or what went wrong) comes
      first. With ``render_mode="rgb_array"``, ``info["screenshot"]`` holds the viewport as an RGB array.
    * Actions (text): ``click(id)``, ``type(id, "text")`` (a final ``\\n`` presses Enter), ``select(id, "option")``,
      ``goto("url")`` (only the task's sites), ``scroll(up|down)``, ``back()``, ``answer("…")``. An action that
      cannot be read, a stale id or a failed click comes back as an observation (reward 0), never an exception.
    * ``answer`` ends the episode: site tasks run their check (the answer, the final URL and/or queries against the
      sites' databases; see :mod:`selfgym.envs.web.checks`), reward 1 if it passes; ``info`` has ``passed``, the
      ``answer`` and the ``check`` lines (expected versus found). MiniWoB++ tasks end as soon as the page judges
      them (reward 1 when fully solved, else 0). ``max_steps`` actions without an end truncate the episode.
    * Tools: ``click(id)``, ``type(id, text)``, ``select(id, option)``, ``goto(url)``, ``scroll(direction)``,
      ``back()`` and ``answer(answer)``, the same as the text actions.
    * Tasks: ``tasks=None`` (or ``"sites"``) the shipped shop/forum/wiki tasks, ``"miniwob"``, ``"all"``, a YAML
      task file (:mod:`selfgym.envs.web.tasks`) or any task source; ``reset(options={"task": ...})`` runs any task.

    The sites and Chromium run in one web sandbox container without network (see
    :mod:`selfgym.envs.web.container` for why), which the environment keeps across episodes: each ``reset`` puts
    the sites' seeded databases back and wipes the browser (cookies, storage, cache, history), so episodes do not
    see each other. From a shared ``pool`` (of the ``web`` image) the environment takes one sandbox for its
    lifetime. ``env.sandbox.run`` works in it, but only with ``keep_background=True``: any other command ends the
    sandbox's background processes, the sites and Chromium among them.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    sandbox_spec = SandboxSpec("web", WEB_LIMITS)
    uses_sandbox = False  # the base class would hand out a fresh sandbox per episode; the services stay up instead
    sandbox_bound = ("_hub", "_container", "_browser")  # a pickled env reconnects on its next reset
    TOOLS = (
        tool("click", "Click an element.", {"id": integer("The element's id: the number in brackets before it.")}),
        tool("type", "Type text into an element; end the text with a newline to press Enter.",
             {"id": integer("The element's id."), "text": string("The text to type.")}),
        tool("select", "Choose an option of a drop-down.",
             {"id": integer("The drop-down's id."), "option": string("The option to choose.")}),
        tool("goto", "Open a URL of one of the task's sites.", {"url": string("The URL to open.")}),
        tool("scroll", "Scroll the page.", {"direction": {"type": "string", "enum": ["up", "down"],
                                                          "description": "up or down"}}),
        tool("back", "Go back to the previous page."),
        tool("answer", "Finish the task with an answer.",
             {"answer": string('The answer; "done" when the task asks for no information.')}),
    )

    def __init__(self, tasks: TaskSource | str | Path | None = None, *, max_steps: AtLeastOne = 30,
                 viewport: tuple[AtLeastOne, AtLeastOne] = (1280, 1080), action_timeout_s: Positive = 5.0,
                 max_tree_chars: AtLeastOne = 12_000, pool: SandboxPool | None = None, image: str | None = None,
                 limits: Limits | None = None, render_mode: str | None = None,
                 max_action_chars: AtLeastOne = 8_000) -> None:
        super().__init__(task_source(tasks), max_steps=max_steps, pool=pool, image=image, limits=limits,
                         render_mode=render_mode, max_action_chars=max_action_chars)
        self.viewport = viewport
        self.action_timeout_s = action_timeout_s
        self.max_tree_chars = max_tree_chars
        self._hub: PlaywrightHub | None = None
        self._container: WebContainer | None = None
        self._browser: BrowserSession | None = None
        self._goal = ""
        self._sites: list[Site] = []
        self._url = ""
        self._screenshot: np.ndarray | None = None
        self._episode_seed = 0
        self._document: str | None = None  # the loader id of a MiniWoB++ episode's own page (see _miniwob_status)

    # --- what the env knows of its tasks ------------------------------------------------------------------------
    @classmethod
    def read_task_file(cls, path: str | Path) -> TaskSource:
        """A YAML file of site tasks (:mod:`selfgym.envs.web.tasks`)."""
        return TaskList(load_task_file(path), FAMILY)

    @classmethod
    def reference_reply(cls, task: Task, observations: Sequence[str]) -> str:
        """The task's reference reacts to the page (it finds elements by role and name, or a MiniWoB++ solver
        reads the goal): replayed over the observations so far."""
        reference = ReferencePolicy(task)
        return [reference(observation) for observation in observations][-1]

    @classmethod
    def task_signature(cls, task: Task) -> str:
        """A MiniWoB++ task's goal is read from its page (the same prompt for all): its page's name in the URL."""
        return f"/miniwob/{task.data['miniwob']}.html" if is_miniwob(task) else super().task_signature(task)

    def tool_action(self, call: ToolCall) -> str:
        args = call.arguments
        match call.name:
            case "click":
                return f"click({args['id']})"
            case "type" | "select":
                return f"{call.name}({args['id']}, {args.get('text', args.get('option'))!r})"
            case "goto" | "answer":
                return f"{call.name}({args.get('url', args.get('answer'))!r})"
            case "scroll":
                return f"scroll({args['direction']})"
        return "back()"

    # --- episodes -------------------------------------------------------------------------------------------------
    def _begin(self, task: Task) -> tuple[str, dict[str, Any]]:
        miniwob = MiniWobSpec.model_validate(dict(task.data)) if is_miniwob(task) else None
        spec = None if miniwob else spec_of(task)
        try:
            return self._start_episode(task, spec, miniwob)
        except _INFRASTRUCTURE_ERRORS as exc:
            raise self._lost(exc) from exc

    def _start_episode(self, task: Task, spec, miniwob: MiniWobSpec | None) -> tuple[str, dict[str, Any]]:
        browser, container = self._ready()
        # Only the last episode's sites can have changed: the browser reaches no others.
        browser.end_episode(self._origins)
        container.reset_databases(site.name for site in self._sites)
        self._document = None
        info: dict[str, Any] = {}
        if miniwob is not None:
            container.install_miniwob(page_files())
            self._sites = [SITES["miniwob"]]
            browser.new_episode(miniwob.start_url, self._origins)
            if miniwob.seed is not None:
                seed = miniwob.seed
            elif not self._replay:  # a replay must show the page the agent saw
                seed = self._episode_seed = int(self.np_random.integers(2**31))
            else:
                seed = self._episode_seed
            self._goal = str(browser.evaluate(START_SCRIPT, seed))
            self._document = browser.document_id()
            info.update(category="miniwob", seed=seed)
        else:
            self._sites = spec.site_objects
            browser.new_episode(spec.start_url, self._origins)
            self._goal = task.prompt
            info["category"] = spec.category
        state = browser.observe()
        sites = "; ".join(f"{site.title} at {site.origin}/" for site in self._sites)
        intro = f"You are using a web browser. {ACTION_HELP}\nSites for this task: {sites}\n"
        return intro + self._describe(state), {**info, **self._page_info(state)}

    def _act(self, action: str) -> Turn:
        try:
            parsed = parse_action(action)
            url = resolve_goto(parsed.text, self._url, self._origins) if parsed.kind == "goto" else None
        except ActionError as exc:
            return self._error_turn(str(exc), malformed=True)
        try:
            if parsed.kind == "answer":
                return self._finish(parsed.text)
            try:
                message, error = self._browser.act(parsed, url), None
            except ActionFailed as exc:
                message, error = f"Error: {exc}", str(exc)
            if is_miniwob(self.task):
                status = self._miniwob_status()
                if status is None:
                    self._blame_the_page(always=True)
                    return Turn(f"{message} {LEFT_TASK_PAGE} The task is over: reward 0.", terminated=True,
                                info={"passed": False, "error": error, "left_task_page": True})
                done, reward = status
                if done:
                    return Turn(f"{message} The page ended the task: reward {reward:g}.", reward=reward,
                                terminated=True, info={"passed": reward > 0, "error": error})
            if self._browser.tab_lost:
                self._blame_the_page()
                return self._tab_lost_turn(message if error is None else "", error)
            state = self._browser.observe()
        except _INFRASTRUCTURE_ERRORS as exc:
            if self._browser is not None and self._browser.tab_lost and self._browser.alive():
                return self._tab_lost_turn("", str(exc))
            raise self._lost(exc) from exc
        return Turn(f"{message}\n{self._describe(state)}", info={"error": error, **self._page_info(state)})

    def _blame_the_page(self, *, always: bool = False) -> None:
        """A lost tab (``always``: a page that is not the episode's) is the agent's failure only while Chromium
        lives: when the sandbox goes, every tab crashes first (an infrastructure error, replayed)."""
        if (always or self._browser.tab_lost) and not self._browser.alive():
            raise SandboxLostError("The web sandbox's browser stopped responding (its tabs crashed)")

    def _tab_lost_turn(self, message: str, error: str | None) -> Turn:
        """The page closed or its renderer died while the agent used it: the agent's failure, not the sandbox's
        (the next reset opens a new tab)."""
        return Turn(f"{message} The page was closed or crashed. The task is over: reward 0.".strip(),
                    terminated=True, info={"passed": False, "error": error, "tab_lost": True})

    def _lost(self, exc: BaseException) -> SandboxLostError:
        """The web sandbox, the tunnel or Chromium failed under the agent: drop them, and let the base class replay."""
        self._drop_browser(failed=True)
        if isinstance(exc, SandboxLostError):
            return exc
        return SandboxLostError(f"The web sandbox or its browser stopped responding ({type(exc).__name__}: {exc})")

    def _finish(self, answer: str) -> Turn:
        if is_miniwob(self.task):
            status = self._miniwob_status()
            if status is None:
                self._blame_the_page(always=True)
                return Turn(f"Answer recorded. {LEFT_TASK_PAGE} Reward 0.", terminated=True,
                            info={"passed": False, "answer": answer, "left_task_page": True})
            done, reward = status
            verdict = "solved" if reward > 0 else ("failed" if done else "not finished")
            return Turn(f"Answer recorded. The page says the task is {verdict}: reward {reward:g}.", reward=reward,
                        terminated=True, info={"passed": reward > 0, "answer": answer})
        if self._browser.tab_lost:
            self._blame_the_page()
            return self._tab_lost_turn("", None)
        result = evaluate(spec_of(self.task).check, answer=answer, url=self._browser.page.url,
                          database=self._container.database, context=self.task.prompt)
        text = "passed (reward 1)" if result.passed else "failed (reward 0)"
        return Turn(f"Answer recorded: {answer!r}. The task's check {text}.", reward=float(result.passed),
                    terminated=True, info={"passed": result.passed, "answer": answer, "check": result.details})

    @property
    def _origins(self) -> list[str]:
        return [site.origin for site in self._sites]

    def _miniwob_status(self) -> tuple[bool, float] | None:
        """(done, reward) as the episode's own page reports them; None when that page is no longer open.

        The page's globals are read only in the document the episode started (its loader id, which the browser
        gives, before and after the read): another MiniWoB++ page solved, the same page loaded again with a new
        problem, or a page without MiniWoB's globals, earn nothing.
        """
        status = None if self._document is None else self._browser.evaluate_in(self._document, STATUS_SCRIPT)
        if not isinstance(status, list) or len(status) != 3:
            return None
        done, raw, _reason = status
        try:
            raw = float(raw or 0.0)
        except (TypeError, ValueError):
            raw = 0.0
        # Only a full solve counts: click-checkboxes scores (right - wrong boxes) / boxes, so ticking every box
        # would earn a partial reward without reading the goal.
        return bool(done), 1.0 if done and raw >= 1.0 - 1e-9 else 0.0

    # --- observations ---------------------------------------------------------------------------------------------
    def _describe(self, state: PageState) -> str:
        self._url = state.url
        lines = [f"Goal: {self._goal}", f"URL: {state.url}"]
        if state.tree.above:
            lines.append(f"[{state.tree.above} more elements above; scroll(up) to see them]")
        lines.append(state.tree.text)
        if state.tree.below:
            lines.append(f"[{state.tree.below} more elements below; scroll(down) to see them]")
        return "\n".join(lines)

    def _page_info(self, state: PageState) -> dict[str, Any]:
        info: dict[str, Any] = {"url": state.url, "title": state.title}
        if self.render_mode == "rgb_array":
            self._screenshot = info["screenshot"] = self._browser.screenshot()
        return info

    def _error_turn(self, message: str, *, malformed: bool) -> Turn:
        return Turn(f"Error: {message}\nGoal: {self._goal}\nURL: {self._url}\n(the page is unchanged)",
                    info={"malformed": malformed, "error": message})

    def site_data(self, site: str) -> bytes:
        """The current bytes of a site's SQLite database (``"shop"``, ``"forum"``, ``"wiki"``), for inspection."""
        if self._container is None:
            raise RuntimeError("call reset() first: the web sandbox starts with the first episode")
        return self._container.database_bytes(site)

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self._screenshot
        return super().render()

    # --- forks (see selfgym.envs.forks) ----------------------------------------------------------------------------
    # A fork is a WebEnv of its own, with its own web sandbox (from the same pool). Site tasks save what the episode
    # changed: the sites' databases and the browser's history, cookies and page (BrowserSession.save_page). A
    # MiniWoB++ page keeps its state in the page's scripts, so those episodes are replayed (same seed, same page).
    fork_fields = ("_episode_seed", "_goal", "_sites", "_url")

    def _save_episode(self) -> tuple[Kind, Any, list[str]]:
        if is_miniwob(self.task) or self._browser is None or self._container is None:
            return "replay", None, []
        try:
            databases = {site.name: self._container.database_bytes(site.name) for site in self._sites
                         if site.has_database}
            return "web", {"databases": databases, "page": self._browser.save_page()}, []
        except _INFRASTRUCTURE_ERRORS as exc:
            raise self._lost(exc) from exc

    def _load_episode(self, state: EnvState) -> None:
        if state.kind != "web":
            return super()._load_episode(state)
        try:
            browser, container = self._ready()
            everywhere = [site.origin for site in SITES.values()]  # whatever the last episode here touched
            browser.end_episode(everywhere)
            container.reset_databases()
            container.put_databases(state.sandbox["databases"])
            browser.restore_page(state.sandbox["page"], self._origins)
        except _INFRASTRUCTURE_ERRORS as exc:
            raise self._lost(exc) from exc

    # --- the sandbox and the browser ------------------------------------------------------------------------------
    def _ready(self) -> tuple[BrowserSession, WebContainer]:
        """The browser and container of this env, started (or restarted in a clean sandbox) when needed."""
        sandbox = self.sandbox
        if self._browser is not None and self._container.sandbox is sandbox and self._browser.connected:
            return self._browser, self._container
        self._drop_browser(failed=self._container is not None)
        sandbox = self.sandbox
        container = WebContainer(sandbox)
        container.start()
        if self._hub is None:
            self._hub = acquire_hub()
        self._browser = BrowserSession(self._hub, sandbox.client.api, sandbox.container_id, container.devtools_path,
                                       devtools_port=DEVTOOLS_PORT, viewport=self.viewport,
                                       action_timeout_s=self.action_timeout_s, max_tree_chars=self.max_tree_chars)
        self._container = container
        return self._browser, self._container

    def _drop_browser(self, *, failed: bool) -> None:
        """Disconnect the browser; after a failure also give the sandbox back (the pool resets or replaces it)."""
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if failed:
            self._container = None
            self.release_sandbox()

    def close(self) -> None:
        self._drop_browser(failed=False)
        self._container = None
        if self._hub is not None:
            self._hub = None
            release_hub()
        super().close()
