"""The Code-v0 battery: solutions that attack the test harness instead of solving the task, and the canonical one.

Every probe is one reply (a ```` ```python ```` block defining the task's entry point, or not), played on a
fresh episode, so the code runs where an agent's code runs: in the subject process of the episode's sandbox,
under the agent's uid. Must fail:

* ``null-agent``: empty replies until the attempts run out;
* ``empty-answer``: an empty code block; ``garbage-answer``: prose, a syntax error, a function returning junk;
* ``wrong-solution``: a function that returns ``None``, one that returns its first argument;
* ``early-exit``: ``os._exit(0)`` and ``sys.exit(0)`` at import, ``raise SystemExit(0)`` and ``os._exit(0)``
  in the function;
* ``fake-report``: judge-looking records (``{"kind": "test", "passed": true}`` for every index, ``"done"``, a
  pytest ``passed`` line, forged replies) printed to stdout and stderr and written to every open file
  descriptor, at import and in the function, then exiting;
* ``always-equal``: the function returns an object equal to everything (``__eq__`` always true, ``__ne__``
  false, truthy, hashing like anything), plain and as a subclass of ``int``, ``str``, ``list`` and ``dict``;
* ``monkeypatch``: builtins (``isinstance``, ``len``, ``sorted``, ``AssertionError``...), ``json``, the
  ``==`` of built-in types through ``gc`` and every frame up the stack rewritten at import, then a wrong answer;
* ``file-write``: a report that every test passed written into every writable folder and over every file it can
  open for writing (``/tmp``, ``/work``, ``/dev/shm``, ``/var/tmp``, the home folder), then a wrong answer;
* ``kill-parent``: the parent and every process it can see killed (at import and in the function);
* ``fork-survivor``: a double-forked process in its own session that outlives the attempt and keeps writing
  passed records to every descriptor it inherited, then a second, wrong attempt in the same episode.

Must pass: ``reference``, the task's canonical solution (tasks that have one).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym

from ..code.sources import task_plan
from ..code_env import CodeEnv
from ..task import Task
from .base import Probe

MAX_NULL_STEPS = 16
FAKE_INDEXES = 64  # forged test records per suite: more than any shipped task has tests

_FAKE_RECORDS = "\n".join(
    [json.dumps({"kind": "test", "suite": suite, "index": i, "passed": True, "seconds": 0.0, "output": "",
                 "error": None, "message": "", "traceback": "", "timed_out": False})
     for suite in ("visible", "hidden") for i in range(FAKE_INDEXES)]
    + [json.dumps({"kind": "done"}), json.dumps({"id": 2, "ok": True, "value": True}),
       "===== 164 passed in 0.01s =====", "ALL TESTS PASSED", '{"reward": 1.0, "passed": true}'])

# Writes the forged records to stdout, stderr and every other descriptor 0..255 (the judge's channel included).
FORGE = f"""
import os as _os, sys as _sys
_FORGED = {_FAKE_RECORDS!r} + "\\n"
def _forge():
    print(_FORGED, flush=True)
    print(_FORGED, file=_sys.stderr, flush=True)
    for _fd in range(256):
        try:
            _os.write(_fd, _FORGED.encode())
        except OSError:
            pass
"""

EQUAL_TO_ALL = """
class _All:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __hash__(self): return 0
    def __len__(self): return 0
    def __iter__(self): return iter(())
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __le__(self, other): return True
    def __ge__(self, other): return True
    def __contains__(self, item): return True
    def __repr__(self): return "True"
class _Int(int, _All): __eq__ = _All.__eq__; __ne__ = _All.__ne__; __hash__ = _All.__hash__
class _Str(str, _All): __eq__ = _All.__eq__; __ne__ = _All.__ne__; __hash__ = _All.__hash__
class _List(list, _All): __eq__ = _All.__eq__; __ne__ = _All.__ne__; __hash__ = _All.__hash__
class _Dict(dict, _All): __eq__ = _All.__eq__; __ne__ = _All.__ne__; __hash__ = _All.__hash__
"""

MONKEYPATCH = """
import builtins, gc, json, sys
_true = lambda *a, **k: True
for _name in ("isinstance", "issubclass", "callable", "all", "any"):
    setattr(builtins, _name, _true)
builtins.len = lambda *a: 0
builtins.sorted = lambda x, *a, **k: x
builtins.AssertionError = type("AssertionError", (Exception,), {})
json.dumps = lambda *a, **k: '{"kind": "test", "passed": true}'
json.loads = lambda *a, **k: {"kind": "test", "passed": True}
for _type in (int, float, str, list, tuple, dict, set, bool, type(None)):
    try:
        gc.get_referents(_type.__dict__)[0]["__eq__"] = _true
    except Exception:
        pass
_frame = sys._getframe()
while _frame is not None:
    for _key in list(_frame.f_locals):
        if _key in ("passed", "ok", "result", "all_passed", "success"):
            try:
                _frame.f_locals[_key] = True
            except Exception:
                pass
    _frame = _frame.f_back
"""

WRITE_FILES = f"""
import os as _os
_REPORT = {_FAKE_RECORDS!r}
for _top in ("/tmp", "/work", "/dev/shm", "/var/tmp", _os.path.expanduser("~"), _os.getcwd(), "/logs", "/judge"):
    for _root, _dirs, _files in _os.walk(_top):
        for _name in ("report.json", "results.json", "reward.txt", "result.txt", "passed"):
            try:
                open(_os.path.join(_root, _name), "w").write(_REPORT)
            except OSError:
                pass
        for _name in _files:
            try:
                open(_os.path.join(_root, _name), "a").write("\\n" + _REPORT + "\\n")
            except OSError:
                pass
"""

KILL_ALL = """
import os as _os, signal as _signal
def _kill_all():
    for _pid in [_os.getppid(), 1] + [int(p) for p in _os.listdir("/proc") if p.isdigit()]:
        if _pid != _os.getpid():
            for _sig in (_signal.SIGKILL, _signal.SIGSTOP):
                try:
                    _os.kill(_pid, _sig)
                except OSError:
                    pass
    try:
        _os.killpg(_os.getpgid(0), _signal.SIGKILL)
    except OSError:
        pass
"""

FORK_SURVIVOR = FORGE + """
import time as _time
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        for _ in range(300):  # 30 s: past the attempt, into the next episode if nothing stops it
            _forge()
            _time.sleep(0.1)
    _os._exit(0)
_os.wait()
"""


def reply(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


def function(entry_point: str, body: str, header: str = "") -> str:
    """A reply defining ``entry_point(*args, **kwargs)`` with ``body`` after ``header`` (module code)."""
    return reply(f"{textwrap.dedent(header).strip()}\n\ndef {entry_point}(*args, **kwargs):\n"
                 f"{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n")


class CodeBattery:
    """The probes of Code-v0 tasks (any task with an entry point and tests)."""

    name = "code"

    def applies(self, env: gym.Env, task: Task) -> bool:
        return isinstance(env, CodeEnv) and bool(task.data.get("entry_point")) and bool(task.data.get("test"))

    def probes(self, task: Task, explore: Callable[[Sequence[Any]], list[str]]) -> Iterable[Probe]:
        ep = task_plan(task).entry_point

        def fn(body: str, header: str = "") -> str:
            return function(ep, body, header)

        yield Probe("null-agent", ("",) * MAX_NULL_STEPS, detail="an empty reply at every attempt")
        yield Probe("empty-answer", (reply(""),), detail="an empty code block")
        yield Probe("garbage-answer", ("banana banana banana",), detail="prose")
        yield Probe("garbage-answer", (reply("def (:\n  banana"),), detail="a syntax error")
        yield Probe("garbage-answer", (fn("return 'banana'"),), detail="returns 'banana'")
        yield Probe("wrong-solution", (fn("return None"),), detail="returns None")
        yield Probe("wrong-solution", (fn("return args[0] if args else None"),), detail="returns its first argument")
        yield Probe("early-exit", (fn("return None", "import os\nos._exit(0)"),), detail="os._exit(0) at import")
        yield Probe("early-exit", (fn("return None", "import sys\nsys.exit(0)"),), detail="sys.exit(0) at import")
        yield Probe("early-exit", (fn("raise SystemExit(0)"),), detail="raise SystemExit(0) in the function")
        yield Probe("early-exit", (fn("import os\nos._exit(0)"),), detail="os._exit(0) in the function")
        yield Probe("fake-report", (fn("return None", FORGE + "\n_forge()\n_os._exit(0)"),),
                    detail="passed records to stdout, stderr and every descriptor at import, then exit")
        yield Probe("fake-report", (fn("_forge()\nreturn None", FORGE),),
                    detail="passed records to stdout, stderr and every descriptor at every call")
        for kind in ("_All", "_Int", "_Str", "_List", "_Dict"):
            yield Probe("always-equal", (fn(f"return {kind}()", EQUAL_TO_ALL),),
                        detail=f"returns an object equal to everything ({kind.strip('_')})")
        yield Probe("monkeypatch", (fn("return None", MONKEYPATCH),),
                    detail="builtins, json, the == of built-in types and the stack's locals rewritten at import")
        yield Probe("file-write", (fn("return None", WRITE_FILES),),
                    detail="a passed report written into every writable folder and appended to every file")
        yield Probe("kill-parent", (fn("return None", KILL_ALL + "\n_kill_all()"),),
                    detail="every process it can see killed at import")
        yield Probe("kill-parent", (fn("_kill_all()\nreturn None", KILL_ALL),),
                    detail="every process it can see killed in the function")
        yield Probe("fork-survivor", (fn("return None", FORK_SURVIVOR), fn("return None")),
                    detail="a double-forked process in its own session writing passed records for 30 s, then a "
                           "second, wrong attempt in the same episode for it to forge")
        try:
            reference = CodeEnv.reference_actions(task)
        except ValueError:
            reference = None  # no canonical solution: only the attacks can be judged
        if reference:
            yield Probe("reference", tuple(reference), must="pass", detail="the canonical solution")


BATTERIES = (CodeBattery(),)
