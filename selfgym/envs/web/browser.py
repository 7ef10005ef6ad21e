"""Playwright driving the Chromium of one web sandbox: episodes, observations, actions.

Playwright runs on the host (on the process's :mod:`~selfgym.envs.web.hub`) and reaches the Chromium inside the
network-less container over the DevTools protocol through an :class:`~selfgym.envs.web.tunnel.ExecTunnel`. Episodes
on the same sites share one browser context and page, wiped between them (no cookies, storage, cache, history or
extra tabs carry over); the context's proxy settings keep its pages to those sites, inside Chromium.

Elements are addressed by the ids of :mod:`~selfgym.envs.web.axtree` (``backendDOMNodeId``): to act on one, the
node is resolved through CDP and probed by a small function (is it there, enabled, editable; where to click), then
the input goes through Playwright's mouse and keyboard, as a user's would. Playwright's locators are not used:
they inject a large script into every new document, which costs ~90 ms per page in a one-CPU container, more
than the rest of a step. After a click or Enter, a navigation it started is waited for as Playwright does.
"""

from __future__ import annotations

import asyncio
import io
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

import numpy as np
from playwright.async_api import BrowserContext, CDPSession, Error as PlaywrightError, Page

from .actions import Action
from .axtree import TreeText, Viewport, format_tree, layout_boxes
from .hub import PlaywrightHub
from .tunnel import ExecTunnel

if TYPE_CHECKING:  # Docker's SDK loads with the first sandbox, not with the env
    import docker

# Runs on the node an id names (its element, for a text node): reports what the element is and, by mode, brings it
# into view and returns the point to click ("point"), focuses it and selects its text ("focus"), or picks the option
# whose label matches ("select", as Playwright's select_option does: set it, then fire input and change).
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
_PROBE = """
function (mode, wanted) {
  const el = this.nodeType === 1 ? this : this.parentElement;
  if (!el || !el.isConnected) return {gone: true};
  const tag = el.tagName.toLowerCase();
  const textTypes = ['text', 'search', 'email', 'url', 'tel', 'password', 'number', ''];
  const info = {tag, disabled: el.matches(':disabled') || el.getAttribute('aria-disabled') === 'true',
    editable: el.isContentEditable || tag === 'textarea' || (tag === 'input' && textTypes.includes(el.getAttribute('type') || '')),
    options: tag === 'select' ? Array.from(el.options).map(o => o.label || o.text) : null};
  if (info.disabled) return info;
  if (mode === 'point') {
    const rect = () => {
      if (this.nodeType !== 3) return el.getBoundingClientRect();
      const range = document.createRange(); range.selectNodeContents(this); return range.getBoundingClientRect();
    };
    let r = rect();
    if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) {
      el.scrollIntoView({block: 'center', inline: 'center'}); r = rect();
    }
    info.hidden = r.width === 0 && r.height === 0;
    info.x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
    info.y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
    const hit = document.elementFromPoint(info.x, info.y);
    info.hit = !!hit && (hit === el || el.contains(hit));
  } else if (mode === 'focus' && info.editable) {
    el.focus();
    if (typeof el.select === 'function') el.select();
    else { const range = document.createRange(); range.selectNodeContents(el);
           const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); }
  } else if (mode === 'select' && info.options) {
    const norm = s => s.trim().toLowerCase();
    const options = Array.from(el.options);
    const option = options.find(o => (o.label || o.text) === wanted)
      || options.find(o => norm(o.label || o.text) === norm(wanted))
      || options.find(o => norm(o.label || o.text).includes(norm(wanted)));
    if (option) {
      el.value = option.value; option.selected = true;
      el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));
      info.chosen = option.label || option.text;
    }
  }
  return info;
}
"""


# Forks (save_page / restore_page): what of a page the agent can change without the server knowing. Fields by their
# order in the document (value, checked, selected option), the scroll position, and which element has the focus
# (shown as "focused"), by its order among all elements.
_PAGE_STATE = """() => {
  const all = Array.from(document.getElementsByTagName('*'));
  return {fields: Array.from(document.querySelectorAll('input, textarea, select'),
                             e => [e.value, e.checked === true, e.tagName === 'SELECT' ? e.selectedIndex : -1]),
          scroll: [window.scrollX, window.scrollY], focus: all.indexOf(document.activeElement)};
}"""
_SET_PAGE_STATE = """([fields, scroll, focus]) => {
  const elements = document.querySelectorAll('input, textarea, select');
  fields.forEach(([value, checked, index], i) => {
    const e = elements[i];
    if (!e || e.type === 'file') return;
    if (e.tagName === 'SELECT') e.selectedIndex = index;
    else if (e.type === 'checkbox' || e.type === 'radio') e.checked = checked;
    else e.value = value;
  });
  const focused = document.getElementsByTagName('*')[focus];
  if (focus >= 0 && focused && focused !== document.body && typeof focused.focus === 'function')
    focused.focus({preventScroll: true});
  window.scrollTo(scroll[0], scroll[1]);
}"""


# The proxy of every context: nothing listens on port 9 (discard) in the sandbox, so a request that has to use it
# fails at once (ERR_PROXY_CONNECTION_FAILED). Only the task's sites bypass it.
CLOSED_PROXY = "http://127.0.0.1:9"


class _Tab(NamedTuple):
    context: BrowserContext
    page: Page
    cdp: CDPSession
    main_frame: str
    crashed: asyncio.Event  # set by the page's "crash" event: its renderer died


class ActionFailed(Exception):
    """An action that could not be carried out; ``str(error)`` is the message for the agent."""


@dataclass
class PageState:
    """What the agent sees of the page: its URL, title and accessibility tree."""

    url: str
    title: str
    tree: TreeText


class BrowserSession:
    """One Playwright connection to the Chromium of a web container, with the current episode's page.

    All methods are synchronous and may be called from any thread; they run on the hub's loop.
    """

    def __init__(self, hub: PlaywrightHub, api: docker.APIClient, container_id: str, devtools_path: str, *,
                 devtools_port: int, viewport: tuple[int, int] = (1280, 1080), action_timeout_s: float = 5.0,
                 max_tree_chars: int = 12_000) -> None:
        self.hub = hub
        self.viewport = {"width": viewport[0], "height": viewport[1]}
        self.action_timeout_ms = action_timeout_s * 1000
        self.max_tree_chars = max_tree_chars
        self._call_timeout_s = action_timeout_s * 3 + 30
        self._tunnel = ExecTunnel(api, container_id, devtools_port)
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self._cdp: CDPSession | None = None
        self._main_frame = ""
        self._crashed = asyncio.Event()
        self._navigating = False
        self._loaded = asyncio.Event()
        self._tabs: dict[tuple[str, ...], _Tab] = {}  # sorted allowed origins -> their context and page
        self._shown_ids: dict[int, int] = {}  # backend id -> the id shown to the agent (this episode)
        self._backend_ids: dict[int, int] = {}  # and back
        self.browser = self._run(self._connect(devtools_path))
        hub.sessions.add(self)

    def _run(self, coroutine):
        return self.hub.run(coroutine, timeout_s=self._call_timeout_s)

    async def _connect(self, devtools_path: str):
        port = await self._tunnel.open()
        return await self.hub.playwright.chromium.connect_over_cdp(f"ws://127.0.0.1:{port}{devtools_path}",
                                                                   timeout=30_000)

    @property
    def connected(self) -> bool:
        return self.browser.is_connected()

    # --- episodes -------------------------------------------------------------------------------------------------
    # Each set of sites has its own browser context and page, kept for the session and wiped between episodes:
    # cookies, storage, cache and history. A new context per episode isolates no better for these sites (no session
    # storage, no workers) and costs ~150 ms more per reset (a new renderer process and Playwright's page set-up).
    #
    # The context is what keeps a page to its task's sites, inside Chromium: its proxy is a closed port, and only the
    # sites' origins bypass it, so a request to anywhere else fails in the network stack, whatever made it (a link,
    # a redirect, a form, fetch or a WebSocket from a script, an iframe, a popup, a worker). Nothing asks this
    # process per request, as a Playwright route would (~30 ms a click through the exec tunnel), and redirects and
    # WebSockets, which a route does not see, are held too. This is defence in depth behind goto's own check (the
    # container has no network anyway); it keeps Chromium's DevTools port out of the pages' reach, and the sites of
    # other tasks, whose databases the next episode does not reset, out of the agent's.
    def end_episode(self, origins: list[str]) -> None:
        """Forget the episode: cookies, the storage and cache of ``origins``, the ids given to elements, and any
        page it opened besides the episode's own."""
        self._run(self._end_episode(origins))

    async def _end_episode(self, origins: list[str]) -> None:
        self._shown_ids.clear()
        self._backend_ids.clear()
        if self.context is None:
            return
        if self.tab_lost:  # its page closed or crashed: the whole context goes (a new one has no data at all)
            await self._drop_lost_tabs()
            return
        await asyncio.gather(self.context.clear_cookies(), self._cdp.send("Network.clearBrowserCache"), *(
            self._cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
            for origin in origins), *(page.close() for page in self.context.pages if page is not self.page))

    def new_episode(self, start_url: str, allowed_origins: list[str]) -> None:
        """Open ``start_url``, with no history behind it, in a browser that only reaches ``allowed_origins``."""
        self._run(self._new_episode(start_url, allowed_origins))

    async def _new_episode(self, start_url: str, allowed_origins: list[str]) -> None:
        key = tuple(sorted(allowed_origins))
        await self._drop_lost_tabs()
        if key not in self._tabs:
            self._tabs[key] = await self._open_tab(allowed_origins)
        self.context, self.page, self._cdp, self._main_frame, self._crashed = self._tabs[key]
        await self.page.goto(start_url, wait_until="load")
        await self._cdp.send("Page.resetNavigationHistory")

    async def _open_tab(self, allowed_origins: list[str]) -> _Tab:
        bypass = ",".join(urlsplit(origin).netloc for origin in allowed_origins)
        context = await self.browser.new_context(viewport=self.viewport, service_workers="block",
                                                 proxy={"server": CLOSED_PROXY, "bypass": bypass})
        context.set_default_timeout(self.action_timeout_ms)
        page = await context.new_page()
        crashed = asyncio.Event()
        page.on("crash", lambda _page: crashed.set())
        cdp = await context.new_cdp_session(page)
        main_frame = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        for event, kind in (("Page.frameRequestedNavigation", "start"), ("Page.frameStartedLoading", "start"),
                            ("Page.frameStoppedLoading", "stop"), ("Page.navigatedWithinDocument", "stop")):
            cdp.on(event, lambda params, kind=kind, frame=main_frame: self._on_page_event(kind, frame, params))
        await cdp.send("Page.enable")
        return _Tab(context, page, cdp, main_frame, crashed)

    async def _drop_lost_tabs(self) -> None:
        """Close the contexts whose page was closed or whose renderer died (they are opened again when needed)."""
        for key, tab in list(self._tabs.items()):
            if tab.page.is_closed() or tab.crashed.is_set():
                del self._tabs[key]
                if tab.page is self.page:
                    self.context, self.page, self._cdp = None, None, None
                try:
                    await tab.context.close()
                except PlaywrightError:
                    pass

    async def _close_contexts(self) -> None:
        tabs, self._tabs = list(self._tabs.values()), {}
        self.context, self.page, self._cdp = None, None, None
        for tab in tabs:
            try:
                await tab.context.close()
            except PlaywrightError:
                pass  # the browser went away; the caller replaces the session

    # --- observing ------------------------------------------------------------------------------------------------
    def observe(self) -> PageState:
        """The current URL, title and the visible part of the accessibility tree."""
        return self._run(self._observe())

    async def _observe(self) -> PageState:
        tree, metrics = await asyncio.gather(self._cdp.send("Accessibility.getFullAXTree"),
                                             self._cdp.send("Page.getLayoutMetrics"))
        page, view = metrics["cssContentSize"], metrics["cssVisualViewport"]
        if page["width"] <= view["clientWidth"] + 1 and page["height"] <= view["clientHeight"] + 1:
            boxes, viewport = None, None  # the whole page is in view: no need for the layout of every node
        else:
            snapshot = await self._cdp.send("DOMSnapshot.captureSnapshot", {"computedStyles": []})
            boxes = layout_boxes(snapshot)
            viewport = Viewport(view["pageX"], view["pageY"], view["clientWidth"], view["clientHeight"])
        nodes = tree["nodes"]
        title = next((str(n.get("name", {}).get("value", "")) for n in nodes
                      if n.get("role", {}).get("value") == "RootWebArea"), "")
        text = format_tree(nodes, boxes, viewport, self.max_tree_chars, self._number)
        return PageState(self.page.url, title, text)

    def _number(self, backend_id: int) -> int:
        if backend_id not in self._shown_ids:
            self._shown_ids[backend_id] = shown = len(self._shown_ids) + 1
            self._backend_ids[shown] = backend_id
        return self._shown_ids[backend_id]

    def screenshot(self) -> np.ndarray:
        """The viewport as an RGB array (height, width, 3) of uint8."""
        from PIL import Image

        png = self._run(self.page.screenshot(type="png"))
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def evaluate(self, expression: str, argument=None):
        """Evaluate a JavaScript function expression in the page (the MiniWoB source starts its pages with it)."""
        return self._run(self.page.evaluate(expression, argument))

    # --- which document is open -----------------------------------------------------------------------------------
    # A reward a page reports counts only from the episode's own document: the agent can navigate (goto, links,
    # back), and any other page of the same site, or the same page loaded again, is not the episode's problem. A
    # document is named by its loader id, which the browser (not the page) gives each document the main frame
    # loads: same-document navigations (a "#" link) keep it, any new document gets a new one.
    @property
    def tab_lost(self) -> bool:
        """Whether the episode's page was closed or its renderer died (the page's doing, or the agent's)."""
        return self.page is None or self.page.is_closed() or self._crashed.is_set()

    def alive(self, timeout_s: float = 5.0) -> bool:
        """Whether Chromium itself still answers (a lost tab is the page's doing only if it does: when the
        container goes, every tab crashes first)."""
        if not self.connected:
            return False
        try:
            return bool(self.hub.run(self._ping(timeout_s), timeout_s=timeout_s + 5))
        except Exception:  # noqa: BLE001 - any failure to answer means the browser is gone
            return False

    async def _ping(self, timeout_s: float) -> bool:
        session = await asyncio.wait_for(self.browser.new_browser_cdp_session(), timeout_s)
        try:
            await asyncio.wait_for(session.send("Browser.getVersion"), timeout_s)
        finally:
            await session.detach()
        return True

    def document_id(self) -> str | None:
        """The loader id of the document open in the episode's page (None if the tab is lost)."""
        return self._run(self._document_id())

    async def _document_id(self) -> str | None:
        if self.tab_lost:
            return None
        try:
            return (await self._cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["loaderId"]
        except PlaywrightError:
            if self.connected and self.tab_lost:
                return None
            raise

    def evaluate_in(self, document: str, expression: str):
        """Evaluate ``expression`` (a function expression) in the page if document ``document`` is still the one
        open, before and after: its value, or None when another document is open or the tab is lost. An error of
        the expression in that document (a page without the expected globals) also gives None."""
        return self._run(self._evaluate_in(document, expression))

    async def _evaluate_in(self, document: str, expression: str):
        if await self._document_id() != document:
            return None
        try:
            value = await self.page.evaluate(expression)
        except PlaywrightError:
            if not self.connected:
                raise
            return None  # the document went away under the evaluation, or the tab did, or the script failed
        return value if await self._document_id() == document else None

    # --- acting ---------------------------------------------------------------------------------------------------
    def act(self, action: Action, url: str | None = None) -> str:
        """Carry out a browser action (not ``answer``); returns what happened, raises :class:`ActionFailed` (also
        when the tab is lost before or during it: calls into a crashed renderer would wait for their timeout)."""
        return self._run(self._act_unless_lost(action, url))

    async def _act_unless_lost(self, action: Action, url: str | None) -> str:
        if self.tab_lost:
            raise ActionFailed("The page was closed or crashed.")
        acting, crashing = asyncio.ensure_future(self._act(action, url)), asyncio.ensure_future(self._crashed.wait())
        try:
            await asyncio.wait({acting, crashing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            crashing.cancel()
        if not acting.done():
            acting.cancel()
            raise ActionFailed("The page crashed.")
        return acting.result()

    async def _act(self, action: Action, url: str | None) -> str:
        page = self.page
        try:
            if action.kind == "goto":
                await page.goto(url, wait_until="load")
                done = f"Opened {url}."
            elif action.kind == "back":
                if await page.go_back(wait_until="load") is None:
                    raise ActionFailed("There is no previous page.")
                done = "Went back."
            elif action.kind == "scroll":
                step = self.viewport["height"] * 0.8 * (1 if action.text == "down" else -1)
                at = await page.evaluate("dy => { const y = window.scrollY; window.scrollBy(0, dy); "
                                         "return [y, window.scrollY]; }", step)
                done = f"Scrolled {action.text}." if at[0] != at[1] else f"Cannot scroll {action.text} any further."
            else:
                done = await self._element_action(action)
            return done
        except PlaywrightError as exc:
            raise ActionFailed(_explain(action, exc)) from None

    async def _element_action(self, action: Action) -> str:
        mode = {"click": "point", "type": "focus", "select": "select"}[action.kind]
        info = await self._probe(action.element, mode, action.text)
        name = f"[{action.element}]"
        if info.get("disabled"):
            raise ActionFailed(f"Element {name} is disabled.")
        if action.kind == "click":
            if info.get("hidden"):
                raise ActionFailed(f"Element {name} is not visible, so it cannot be clicked.")
            for _ in range(3):  # as Playwright: click where the element is now, once the layout has settled
                if info.get("hit", True):
                    break
                await self.page.evaluate(_TWO_FRAMES)
                info = await self._probe(action.element, mode, action.text)
            async with self._navigation_watch():
                await self.page.mouse.click(info["x"], info["y"])
            return f"Clicked {name}."
        if action.kind == "type":
            if not info.get("editable"):
                raise ActionFailed(f"Element {name} ({info.get('tag')}) is not a text field; type works on textbox "
                                   "and similar elements.")
            text = action.text[:-1] if action.text.endswith("\n") else action.text
            if text:
                await self.page.keyboard.insert_text(text)
            else:
                await self.page.keyboard.press("Delete")
            if text != action.text:
                async with self._navigation_watch():
                    await self.page.keyboard.press("Enter")
                return f"Typed into {name} and pressed Enter."
            return f"Typed into {name}."
        if info.get("options") is None:
            raise ActionFailed(f"Element {name} ({info.get('tag')}) is not a drop-down list; select works on combobox "
                               "elements.")
        if "chosen" not in info:
            raise ActionFailed(f"{name} has no option {action.text.strip()!r}. Its options: "
                               + ", ".join(repr(o) for o in info["options"]) + ".")
        return f"Selected {info['chosen']!r} in {name}."

    async def _probe(self, element_id: int, mode: str, wanted: str | None) -> dict:
        """Run :data:`_PROBE` on the node shown as ``element_id``."""
        try:
            resolved = await self._cdp.send("DOM.resolveNode", {"backendNodeId": self._backend_ids[element_id]})
        except (KeyError, PlaywrightError):
            resolved = None
        if not resolved or "objectId" not in resolved.get("object", {}):
            raise ActionFailed(f"There is no element [{element_id}] on this page. Ids belong to one page: use an id "
                               "from the latest observation.")
        object_id = resolved["object"]["objectId"]
        try:
            reply = await self._cdp.send("Runtime.callFunctionOn", {
                "objectId": object_id, "functionDeclaration": _PROBE, "returnByValue": True,
                "arguments": [{"value": mode}, {"value": wanted}]})
        finally:
            await self._cdp.send("Runtime.releaseObject", {"objectId": object_id})
        info = reply.get("result", {}).get("value") or {}
        if info.get("gone") or "exceptionDetails" in reply:
            raise ActionFailed(f"Element [{element_id}] is no longer on the page.")
        return info

    @asynccontextmanager
    async def _navigation_watch(self):
        """Around an input that may start a navigation: afterwards, wait until that navigation has loaded.

        As Playwright does: after the input, a round trip to the renderer (so that the navigation request the
        input caused, if any, has been reported; when none was, a second one after a task of the page's, for a
        navigation a handler posted), then wait for the main frame to stop loading.
        """
        self._navigating = False
        self._loaded.clear()
        yield
        try:
            await self._cdp.send("Runtime.evaluate", {"expression": "0"})
            if not self._navigating:  # and once more after a task of the page's, which may be what navigates
                await self._cdp.send("Runtime.evaluate", {"expression": "new Promise(r => setTimeout(r))",
                                                          "awaitPromise": True})
        except PlaywrightError:  # the document went away under the evaluation: a navigation is under way
            self._navigating = True
        if self._navigating:
            try:
                await asyncio.wait_for(self._loaded.wait(), self.action_timeout_ms / 1000)
            except TimeoutError:
                pass  # a slow page: the observation shows what there is

    def _on_page_event(self, kind: str, frame: str, params: dict) -> None:
        if frame != self._main_frame or params.get("frameId", frame) != frame:
            return  # another context's page, or a frame inside the page
        if kind == "start":
            self._navigating = True
        elif self._navigating:
            self._loaded.set()

    # --- forks: the page's state saved, and put back in this or another session (see selfgym.envs.forks) --------------
    def save_page(self) -> dict:
        """What the episode's browser holds: its history up to the current page (URLs), cookies, the page's form
        fields, scroll position and focus, and the ids shown for the page's elements (by their place in the
        accessibility tree, and how many ids the episode gave out). JSON data."""
        return self._run(self._save_page())

    async def _save_page(self) -> dict:
        history = await self._cdp.send("Page.getNavigationHistory")
        urls = [entry["url"] for entry in history["entries"][: history["currentIndex"] + 1]]
        cookies = await self.context.cookies()
        page = await self.page.evaluate(_PAGE_STATE)
        nodes = (await self._cdp.send("Accessibility.getFullAXTree"))["nodes"]
        ids = [[index, self._shown_ids[node["backendDOMNodeId"]]] for index, node in enumerate(nodes)
               if node.get("backendDOMNodeId") in self._shown_ids]
        return {"history": urls, "cookies": cookies, **page, "ids": ids, "given": len(self._shown_ids)}

    def restore_page(self, saved: dict, allowed_origins: list[str]) -> None:
        """A new episode in the state :meth:`save_page` saved (the sites' data put back first): the history's pages
        opened in order, then the fields, focus, scroll position and element ids. Ids of elements of earlier pages
        stay given out (acting on one says there is no such element on this page)."""
        self._run(self._restore_page(saved, allowed_origins))

    async def _restore_page(self, saved: dict, allowed_origins: list[str]) -> None:
        self._shown_ids.clear()
        self._backend_ids.clear()
        key = tuple(sorted(allowed_origins))
        await self._drop_lost_tabs()
        if key not in self._tabs:
            self._tabs[key] = await self._open_tab(allowed_origins)
        self.context, self.page, self._cdp, self._main_frame, self._crashed = self._tabs[key]
        if saved["cookies"]:
            await self.context.add_cookies(saved["cookies"])
        history = saved["history"]
        await self.page.goto(history[0], wait_until="load" if len(history) == 1 else "commit")
        await self._cdp.send("Page.resetNavigationHistory")
        for number, url in enumerate(history[1:], start=2):  # pages behind the current one: an entry is enough
            await self.page.goto(url, wait_until="load" if number == len(history) else "commit")
        await self.page.evaluate(_SET_PAGE_STATE, [saved["fields"], saved["scroll"], saved["focus"]])
        nodes = (await self._cdp.send("Accessibility.getFullAXTree"))["nodes"]
        placed = {shown: nodes[index].get("backendDOMNodeId") for index, shown in saved["ids"] if index < len(nodes)}
        for shown in range(1, saved["given"] + 1):  # ids given to elements no longer here keep their numbers taken
            backend = placed.get(shown) or -shown
            self._shown_ids[backend], self._backend_ids[shown] = shown, backend

    # --- life cycle -----------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the episode's context, disconnect from Chromium and close the tunnel. Idempotent."""
        try:
            self.hub.run(self._close(), timeout_s=30)
        except (TimeoutError, RuntimeError, asyncio.CancelledError):
            pass

    async def _close(self) -> None:
        await self._close_contexts()
        try:
            await self.browser.close()  # for a CDP connection this disconnects; Chromium keeps running
        except PlaywrightError:
            pass
        await self._tunnel.close()


def _explain(action: Action, exc: PlaywrightError) -> str:
    """A short message for the agent from a Playwright error (whose text has a long call log)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = re.sub(r"^(Locator|Page)\.\w+: ", "", first)
    if "Timeout" in first:
        return f"{action.kind} timed out: the page did not finish loading. Detail: {first[:200]}"
    return f"{action.kind} failed: {first[:300]}"
