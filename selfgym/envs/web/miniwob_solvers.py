"""Scripted solvers of the MiniWoB++ tasks offered (the reference solutions of the ``miniwob`` source).

A solver reads only what an agent sees, the observation text (the ``Goal:`` line and the element lines), and sends
actions through the same interface. Each is a generator: it receives an observation, yields an action, receives
the next observation, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator

from .elements import elements, find

Solver = Callable[[str], str]
_SOLVERS: dict[str, Callable[[str], Generator[str, str, None]]] = {}
_ORDINALS = {"1st": 1, "2nd": 2, "3rd": 3}
_WIDGET_ROLES = {"radio": "radio", "checkbox": "checkbox", "button": "button", "text": "textbox",
                 "textarea": "textbox"}


def solver(name: str) -> Solver:
    """A fresh solver for MiniWoB++ task ``name``: call it with each observation to get the next action."""
    if name not in _SOLVERS:
        raise KeyError(f"no scripted solver for MiniWoB++ task {name!r}")
    make = _SOLVERS[name]
    state: dict[str, Generator[str, str, None]] = {}

    def act(observation: str) -> str:
        try:
            if "run" not in state:
                state["run"] = make(observation)
                return next(state["run"])
            return state["run"].send(observation)
        except StopIteration:
            return 'answer("done")'

    return act


def solves(*names: str):
    def register(function):
        for name in names:
            _SOLVERS[name] = function
        return function
    return register


def goal(observation: str) -> str:
    match = re.search(r"^Goal: (.*)$", observation, re.MULTILINE)
    return match[1] if match else ""


def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def element(observation: str, role: str, name: str | None = None, nth: int = 1) -> int:
    found = find(observation, role, name, nth)
    if found is None:
        raise LookupError(f"no {role} {name!r} (#{nth}) in the observation")
    return found


def click(element_id: int) -> str:
    return f"click({element_id})"


def type_text(element_id: int, text: str) -> str:
    return f"type({element_id}, {text!r})"


@solves("click-button")
def _click_button(obs):
    yield click(element(obs, "button", quoted(goal(obs))[0]))


@solves("click-button-sequence")
def _click_button_sequence(obs):
    obs = yield click(element(obs, "button", "ONE"))
    yield click(element(obs, "button", "TWO"))


@solves("click-test")
def _click_test(obs):
    yield click(element(obs, "button", "Click Me!"))


@solves("click-test-2")
def _click_test_2(obs):
    yield click(element(obs, "button", goal(obs).split()[-1].rstrip(".")))


@solves("click-link")
def _click_link(obs):
    target = quoted(goal(obs))[0]
    yield click(find(obs, "link", target) or element(obs, "StaticText", target))


@solves("click-dialog")
def _click_dialog(obs):
    yield click(element(obs, "button", "Close"))


@solves("click-dialog-2")
def _click_dialog_2(obs):
    label = quoted(goal(obs))[0]
    yield click(element(obs, "button", "Close" if label.lower() == "x" else label))


@solves("click-checkboxes", "click-checkboxes-transfer")
def _click_checkboxes(obs):
    wanted = re.match(r"Select (.*) and click Submit", goal(obs))[1]
    for name in ([] if wanted == "nothing" else wanted.split(", ")):
        obs = yield click(element(obs, "checkbox", name))
    yield click(element(obs, "button", "Submit"))


@solves("click-option")
def _click_option(obs):
    wanted = re.match(r"Select (.*) and click Submit", goal(obs))[1]
    obs = yield click(element(obs, "radio", wanted))
    yield click(element(obs, "button", "Submit"))


@solves("click-tab")
def _click_tab(obs):
    yield click(element(obs, "tab", re.search(r"(Tab #\d+)", goal(obs))[1]))


@solves("click-tab-2")
def _click_tab_2(obs):
    target = quoted(goal(obs))[0]
    tabs = [name for _, role, name in elements(obs) if role == "tab"]
    for tab in tabs:
        obs = yield click(element(obs, "tab", tab))
        panel = obs[obs.find("tabpanel"):]
        link = find(panel, "StaticText", target)
        if link is not None:
            yield click(link)
            return


@solves("click-widget")
def _click_widget(obs):
    kind = quoted(goal(obs))[0]
    role = _WIDGET_ROLES[kind]
    for element_id, line_role, _ in elements(obs):
        line = re.search(rf"^\s*\[{element_id}\] .*$", obs, re.MULTILINE)[0]
        if line_role == role and (role != "textbox" or ("multiline" in line) == (kind == "textarea")):
            yield click(element_id)
            return


@solves("click-collapsible")
def _click_collapsible(obs):
    header = next(name for _, role, name in elements(obs) if role == "tab" and name.startswith("Section"))
    obs = yield click(element(obs, "tab", header))
    yield click(element(obs, "button", "Submit"))


@solves("focus-text")
def _focus_text(obs):
    yield click(element(obs, "textbox"))


@solves("focus-text-2")
def _focus_text_2(obs):
    yield click(element(obs, "textbox", nth=_ORDINALS[re.search(r"(\d(?:st|nd|rd))", goal(obs))[1]]))


@solves("enter-text", "enter-text-dynamic")
def _enter_text(obs):
    obs = yield type_text(element(obs, "textbox"), quoted(goal(obs))[0])
    yield click(element(obs, "button", "Submit"))


@solves("enter-text-2")
def _enter_text_2(obs):
    text = quoted(goal(obs))[0]
    text = text.lower() if "lower case" in goal(obs) else text.upper()
    obs = yield type_text(element(obs, "textbox"), text)
    yield click(element(obs, "button", "Submit"))


@solves("enter-password")
def _enter_password(obs):
    password = quoted(goal(obs))[0]
    obs = yield type_text(element(obs, "textbox"), password)
    obs = yield type_text(element(obs, "textbox", nth=2), password)
    yield click(element(obs, "button", "Submit"))


@solves("login-user")
def _login_user(obs):
    username, password = quoted(goal(obs))[:2]
    obs = yield type_text(element(obs, "textbox"), username)
    obs = yield type_text(element(obs, "textbox", nth=2), password)
    yield click(element(obs, "button", "Login"))


@solves("choose-list")
def _choose_list(obs):
    wanted = re.match(r"Select (.*) from the list", goal(obs))[1]
    obs = yield f"select({element(obs, 'combobox')}, {wanted!r})"
    yield click(element(obs, "button", "Submit"))


@solves("guess-number")
def _guess_number(obs):
    low, high = 0, 9
    while low <= high:
        guess = (low + high) // 2
        obs = yield type_text(element(obs, "spinbutton"), str(guess))
        obs = yield click(element(obs, "button", "Submit"))
        names = [name for _, _, name in elements(obs)]
        for index, name in enumerate(names[:-1]):
            if name in ("The number is higher than", "The number is lower than"):
                number = int(names[index + 1])
                low, high = (number + 1, high) if "higher" in name else (low, number - 1)


@solves("simple-arithmetic")
def _simple_arithmetic(obs):
    problem = next(name for _, role, name in elements(obs) if role == "StaticText" and name.endswith("="))
    left, operator, right = problem.rstrip("= ").split()
    value = {"+": int(left) + int(right), "-": int(left) - int(right), "x": int(left) * int(right)}[operator]
    obs = yield type_text(element(obs, "textbox"), str(value))
    yield click(element(obs, "button", "Submit"))
