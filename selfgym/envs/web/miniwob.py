"""MiniWoB++ as a second task source of ``selfgym/Web-v0``.

The ``miniwob`` package ships the MiniWoB++ pages (HTML + JavaScript, under ``miniwob/html``); selfgym copies them
into the web sandbox, where the ``miniwob`` site serves them, and plays them in the same Chromium, with the same
observation and actions as the self-hosted sites. Each page draws a random problem and judges it with its own
JavaScript reward function (``core.endEpisode``): the episode ends when the page reports it is done, with reward
1 if the page's raw reward is 1 (a full solve) and 0 otherwise. Partial credit is not passed on: click-checkboxes
scores (right - wrong boxes) / boxes, which ticking every box, without reading the goal, would turn positive. The
problem is drawn with MiniWoB's seeded generator (``Math.seedrandom``) from a seed the environment draws from its
own ``np_random``, so a seeded ``reset`` replays the same instance. The page's timer is lifted (agents here think
slower than MiniWoB's 10 s) and its score display hidden.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..sources import TaskList
from ..task import Task
from .container import SITES

FAMILY = "miniwob"

# The MiniWoB++ tasks offered, with difficulty. Each has a scripted solver in selfgym.envs.web.miniwob_solvers.
TASKS: dict[str, int] = {
    "click-button": 0, "click-button-sequence": 0, "click-link": 0, "click-test": 0, "click-test-2": 0,
    "click-dialog": 0, "click-dialog-2": 1, "click-checkboxes": 1, "click-option": 1, "click-tab": 1,
    "click-widget": 1, "click-collapsible": 1, "focus-text": 0, "focus-text-2": 0, "enter-text": 0,
    "enter-text-2": 1, "enter-password": 1, "login-user": 1, "choose-list": 1, "click-tab-2": 2,
    "guess-number": 2, "enter-text-dynamic": 1, "click-checkboxes-transfer": 2, "simple-arithmetic": 1,
}

# Runs in the page after it loaded: seed the generator, lift the timer, hide the score display, start the episode.
START_SCRIPT = """
async (seed) => {
  for (let i = 0; i < 100 && typeof core === 'undefined'; i++) await new Promise(r => setTimeout(r, 20));
  const style = document.createElement('style');
  style.textContent = '#reward-display, #sync-task-cover { display: none !important; }';
  document.head.appendChild(style);
  Math.seedrandom(seed);
  core.EPISODE_MAX_TIME = 24 * 3600 * 1000;
  core.startEpisodeReal();
  for (let i = 0; i < 100 && !WOB_TASK_READY; i++) await new Promise(r => setTimeout(r, 20));
  return core.getUtterance();
}
"""
STATUS_SCRIPT = "() => [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_REASON]"


class MiniWobSpec(BaseModel):
    """What ``Task.data`` of a MiniWoB++ task holds: the page, and optionally a fixed problem seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    miniwob: str = Field(min_length=1)
    seed: int | None = None

    @property
    def start_url(self) -> str:
        return SITES["miniwob"].url(f"/miniwob/{self.miniwob}.html")


def is_miniwob(task: Task) -> bool:
    return "miniwob" in task.data


def html_root() -> Path:
    """The ``html`` folder of the installed ``miniwob`` package (found without importing it)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("MiniWoB++ tasks need the `miniwob` package: pip install miniwob")
    root = Path(next(iter(spec.submodule_search_locations))) / "html"
    if not (root / "core" / "core.js").is_file():
        raise FileNotFoundError(f"the miniwob package has no HTML pages at {root}")
    return root


@cache
def page_files() -> dict[str, bytes]:
    """Relative path -> bytes of the files the MiniWoB++ pages load (core, common, and the task pages)."""
    root = html_root()
    files = {str(p.relative_to(root)): p.read_bytes()
             for folder in ("core", "common") for p in (root / folder).rglob("*") if p.is_file()}
    for page in (root / "miniwob").glob("*.html"):
        files[f"miniwob/{page.name}"] = page.read_bytes()
    return files


def miniwob_tasks(names: list[str] | None = None) -> TaskList:
    """The MiniWoB++ tasks (all of :data:`TASKS`, or ``names``) as a task source."""
    names = list(TASKS) if names is None else names
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise KeyError(f"no MiniWoB++ task(s) {unknown} here; available: {sorted(TASKS)}")
    return TaskList([Task(id=f"miniwob/{name}", family=FAMILY, difficulty=TASKS[name], data={"miniwob": name},
                          prompt="Do what the page asks (the goal is read from the page).") for name in names], FAMILY)
