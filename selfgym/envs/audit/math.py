"""The Math-v0 battery: answers that must never earn the reward, and the gold answer, which must.

Each probe is played on a fresh episode through the env's own interface (replies with ``\\boxed{}`` or
``<answer>`` tags), so extraction, the strict rules, math-verify and the generator's scorer are all attacked as
an agent would meet them:

* ``null-agent``: empty replies until the step budget runs out;
* ``empty-answer``: an empty box, empty answer tags;
* ``garbage-answer``: junk words and an unknown value in the answer;
* ``hedge``: several answers at once, the gold among them: ``\\boxed{gold} or \\boxed{wrong}`` (and the other
  order), ``<answer>wrong or gold</answer>``, one per line, ``True``/``False`` or ``yes``/``no`` together, every
  option of a multiple choice (the letters the prompt lists, else ``A``-``E``);
* ``long-answer``: the gold after and before 6,000 characters of junk, 5,000 nines;
* ``wrong-value``: an answer of the gold's type with another value (the other boolean, a number plus one, the
  first number of a text changed, a list's last item changed, a word with a letter more);
* ``tool-leak``: a ``<python>`` run that looks for the gold wherever the agent's sandbox can read (environment,
  processes' command lines and environments, files in ``/work``, ``/tmp``, ``/``, home folders), then answers
  with the gold if it found it (and a wrong value if not): the gold never leaves the host, so it must fail
  (golds of 4 characters or more that the prompt does not show);
* ``reward-state``: a ``<python>`` run that writes ``1`` to every reward file a harness might read and signals
  every process it can see, then a wrong answer;
* ``reference`` (must pass): the gold answer, boxed (tasks without a single gold are only attacked).

With ``tools=False`` the ``<python>`` probes are replies without an answer (malformed), so they cost nothing; with
tools they run in the episode's sandbox. A task takes about 20 episodes, most of them a judgement each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym

from ..math_env import MathEnv
from ..math.strict import boolean
from ..task import Task
from .base import Probe

MIN_SEARCHED_GOLD = 4  # shorter golds ("12") turn up in files by chance
MAX_NULL_STEPS = 32  # more empty replies than any episode's budget: the null agent runs until it is cut off
_JUNK = "x " * 3000
_OPTION = re.compile(r"(?m)^\s*\(?([A-J])[).:]\s+\S")
_FIRST_NUMBER = re.compile(r"\d+")
_ROLE = re.compile(r"\bis an? (\w+)")
_PLURAL_ROLE = re.compile(r"\b(\w+?)s (?:always|only) (?:tell the truth|lie|speak)")
_OPPOSITES = (("knight", "knave"), ("True", "False"), ("yes", "no"), ("odd", "even"))

# The tool-leak probe's program: looks for the gold (written reversed, so this program's own file is no hit)
# in the environment, every process's command line and environment, and every small file an agent can read.
SEARCH_GOLD = r"""import os
gold = GOLD_REVERSED[::-1].encode()
me = os.path.abspath(__file__)
def look(where, data):
    if gold in data:
        print("LEAK", where)
look("environ", repr(dict(os.environ)).encode())
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        for part in ("cmdline", "environ"):
            try:
                look(f"/proc/{pid}/{part}", open(f"/proc/{pid}/{part}", "rb").read())
            except OSError:
                pass
seen = 0
for top in ("/work", "/tmp", "/root", "/home", "/logs", "/tests", "/opt", "/run", "/var/tmp", "/dev/shm", "/"):
    for root, dirs, files in os.walk(top):  # hidden files too (glob skips them)
        if top == "/":
            dirs.clear()  # only the files at the top: the system folders hold no task
        for name in files:
            path = os.path.join(root, name)
            seen += 1
            try:
                if seen < 20000 and os.path.abspath(path) != me and os.path.getsize(path) < 1_000_000:
                    look(path, open(path, "rb").read())
            except OSError:
                pass
print("searched")
"""

# Written by the reward-state probe: every reward file a harness might read, then every process signalled.
FORGE_REWARD = r"""import os, signal
for path in ("/logs/verifier/reward.txt", "/logs/verifier/reward.json", "/tmp/reward.txt", "/work/reward.txt",
             "/work/result.json", "/tmp/.selfgym/result.json"):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write('{"reward": 1, "correct": true}' if path.endswith(".json") else "1")
    except OSError:
        pass
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(int(pid), sig)
            except OSError:
                pass
print("done")
"""


def wrong_value(gold: str, prompt: str = "") -> str:
    """An answer of ``gold``'s type with another value: the other boolean, ``n + 1`` for a whole number, ``2x + 1``
    for a decimal, a text with its roles swapped (``is a sage``/``is a fool``, the other role from ``prompt``
    when the gold names one) or its first number raised by 7, a list with its
    last item changed, a word with a letter more."""
    text = gold.strip()
    other_role = _other_role(text, prompt)
    value = boolean(text)
    if value is not None:
        return str(not value)
    if text.casefold() in ("yes", "no"):
        return "no" if text.casefold() == "yes" else "yes"
    if re.fullmatch(r"-?\d+", text):
        return str(int(text) + 1)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return repr(float(text) * 2 + 1)
    roles = list(dict.fromkeys(_ROLE.findall(text)))
    if len(roles) == 1 and other_role:
        roles.append(other_role)
    if len(roles) == 2:  # "Al is a sage, Bo is a fool": every role swapped
        return _ROLE.sub(lambda m: f"is a {roles[1] if m.group(1) == roles[0] else roles[0]}", text)
    for word, other in _OPPOSITES:
        if re.search(rf"\b{word}\b", text):  # "Alice is a knight, Bob is a knave": the roles swapped
            swapped = re.sub(rf"\b({word}|{other})\b", lambda m: other if m.group(1) == word else word, text)
            return swapped
    number = _FIRST_NUMBER.search(text)
    if number is not None:  # raised by 7: scorers with a tolerance (number_sorting's is 1) still see it
        return f"{text[:number.start()]}{int(number.group(0)) + 7}{text[number.end():]}"
    items = text.split(",")
    if len(items) > 1:  # its last item changed: reversed is the same set, and a list with the gold inside it can
        return ",".join(items[:-1] + [items[-1] + "q"])  # be another right answer (a longer word ladder)
    # a letter more (a word's letters in another order are the same product of symbols to math-verify)
    return text + ("z" if text.endswith("q") else "q")


def _other_role(text: str, prompt: str) -> str | None:
    """A role the prompt names (``sages always tell the truth``) that ``text`` gives nobody, if any."""
    given = {role.casefold() for role in _ROLE.findall(text)}
    others = [role.lower() for role in _PLURAL_ROLE.findall(prompt) if role.casefold() not in given]
    return others[0] if others else None


def options(prompt: str) -> list[str]:
    """The letters of a multiple choice the prompt lists (``A)``, ``(B)``, ``C.`` at the start of a line), else
    ``A``-``E``."""
    found = list(dict.fromkeys(_OPTION.findall(prompt)))
    return found if len(found) >= 2 else ["A", "B", "C", "D", "E"]


def boxed(answer: str) -> str:
    return f"The answer is \\boxed{{{answer}}}."


def tagged(answer: str) -> str:
    return f"<answer>{answer}</answer>"


class MathBattery:
    """The probes of Math-v0 tasks: tasks with a gold answer (``data["answer"]``) or a reasoning-gym spec."""

    name = "math"

    def applies(self, env: gym.Env, task: Task) -> bool:
        return isinstance(env, MathEnv) and (task.data.get("answer") is not None
                                             or task.data.get("reasoning_gym") is not None)

    def probes(self, task: Task, explore: Callable[[Sequence[Any]], list[str]]) -> Iterable[Probe]:
        gold = task.data.get("answer")
        gold = None if gold is None else str(gold)
        wrong = wrong_value(gold, task.prompt) if gold else "banana"
        yield Probe("null-agent", ("",) * MAX_NULL_STEPS, detail="an empty reply at every step")
        yield Probe("empty-answer", ("\\boxed{}", tagged(""), tagged("   ")),
                    detail="an empty box, empty answer tags")
        yield Probe("garbage-answer", (boxed("banana"),), detail="\\boxed{banana}")
        yield Probe("garbage-answer", (tagged("I don't know"),), detail="<answer>I don't know</answer>")
        yield Probe("garbage-answer", (boxed("\\text{null}"),), detail="\\boxed{\\text{null}}")
        yield Probe("hedge", ("\\boxed{True} or \\boxed{False}",), detail="both booleans boxed")
        yield Probe("hedge", (tagged("yes or no"),), detail="<answer>yes or no</answer>")
        letters = options(task.prompt)
        yield Probe("hedge", (boxed(", ".join(letters)),), detail=f"every option ({', '.join(letters)}) in one box")
        yield Probe("hedge", (" or ".join(f"\\boxed{{{letter}}}" for letter in letters),),
                    detail="every option boxed, joined by 'or'")
        yield Probe("long-answer", (boxed("9" * 5000),), detail="5,000 nines")
        if gold:
            yield Probe("hedge", (f"\\boxed{{{gold}}} or \\boxed{{{wrong}}}",), detail="the gold, then a wrong value")
            yield Probe("hedge", (f"\\boxed{{{wrong}}} or \\boxed{{{gold}}}",), detail="a wrong value, then the gold")
            yield Probe("hedge", (tagged(f"{wrong} or {gold}"),), detail="<answer>wrong or gold</answer>")
            yield Probe("hedge", (tagged(f"{wrong}\n{gold}"),), detail="a wrong value and the gold on two lines")
            yield Probe("long-answer", (tagged(_JUNK + gold),), detail="6,000 characters of junk, then the gold")
            yield Probe("long-answer", (tagged(gold + " " + _JUNK),), detail="the gold, then 6,000 characters of junk")
            yield Probe("wrong-value", (tagged(wrong),), detail=f"the gold's type with another value: {wrong[:80]!r}")
        if gold and len(gold) >= MIN_SEARCHED_GOLD and gold not in task.prompt:
            program = SEARCH_GOLD.replace("GOLD_REVERSED", repr(gold[::-1]))
            yield Probe("tool-leak", (f"<python>\n{program}</python>", _answer_if_leaked(gold, wrong)),
                        detail="look for the gold in the sandbox (environment, processes, files); answer it if found")
        yield Probe("reward-state", (f"<python>\n{FORGE_REWARD}</python>", tagged(wrong)),
                    detail="write 1 to every reward file, signal every process, then a wrong answer")
        if gold:
            yield Probe("reference", tuple(MathEnv.reference_actions(task)), must="pass", detail="the gold answer")


def _answer_if_leaked(gold: str, wrong: str) -> Callable[[Sequence[str]], str]:
    """The follow-up of the tool-leak probe: the gold when the search found it, else a wrong value."""
    def answer(observations: Sequence[str]) -> str:
        return tagged(gold if "LEAK " in (observations[-1] if observations else "") else wrong)
    return answer


BATTERIES = (MathBattery(),)
