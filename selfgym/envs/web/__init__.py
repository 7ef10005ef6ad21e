"""The parts of ``selfgym/Web-v0`` (:class:`selfgym.envs.web_env.WebEnv`).

* :mod:`.container`: the web sandbox (sites + headless Chromium, no network) and the site registry;
* :mod:`.sites`: the Flask + SQLite sites that run inside it (shop, forum, wiki);
* :mod:`.hub`, :mod:`.tunnel`, :mod:`.browser`: Playwright on the host, reaching that Chromium through docker exec;
* :mod:`.axtree`: the accessibility tree as text; :mod:`.actions`: the action parser;
* :mod:`.tasks`, :mod:`.checks`, :mod:`.reference`: site tasks, their checks and scripted solutions;
* :mod:`.miniwob`, :mod:`.miniwob_solvers`: MiniWoB++ as a second task source.
"""

from .actions import Action, ActionError, parse_action
from .checks import Check, Verdict, evaluate
from .container import SITES, WEB_LIMITS, Site
from .miniwob import miniwob_tasks
from .reference import ReferencePolicy
from .tasks import WebTaskSpec, load_task_file, shipped_tasks

__all__ = ["SITES", "WEB_LIMITS", "Action", "ActionError", "Check", "ReferencePolicy", "Site", "Verdict",
           "WebTaskSpec", "evaluate", "load_task_file", "miniwob_tasks", "parse_action", "shipped_tasks"]
