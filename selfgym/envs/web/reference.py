"""Scripted reference solutions, played through the real observation and action interface.

A site task's ``reference`` names elements by role and accessible name, as they appear in observations:
``click(link "Laptops")``, ``type(spinbutton "Quantity", "2")``, ``select(combobox "Shipping method", "Express")``;
``#2`` after the name picks the second such element. :class:`ReferencePolicy` finds the element's id in the current
observation (scrolling down when it is not in view) and sends the concrete action. MiniWoB++ tasks have a solver
function per page (:mod:`selfgym.envs.web.miniwob_solvers`) that reads the goal and the tree the same way.
"""

from __future__ import annotations

import re

from ..task import Task
from .elements import find
from .miniwob import is_miniwob
from .miniwob_solvers import solver

_SYMBOLIC = re.compile(r'^(click|type|select)\(\s*([A-Za-z]+)\s+"((?:[^"\\]|\\.)*)"\s*(?:#(\d+))?\s*(,.*)?\)\s*$',
                       re.DOTALL)
def resolve(step: str, observation: str) -> str | None:
    """``step`` with a symbolic element replaced by its id in ``observation`` (None if it is not there)."""
    match = _SYMBOLIC.match(step.strip())
    if match is None:
        return step
    kind, role, name, nth, rest = match.groups()
    element = find(observation, role, name.replace('\\"', '"'), int(nth or 1))
    return None if element is None else f"{kind}({element}{rest or ''})"


class ReferencePolicy:
    """Plays a task's reference solution: call it with each observation, get the next action."""

    def __init__(self, task: Task, *, max_scrolls: int = 6) -> None:
        self.task = task
        self.max_scrolls = max_scrolls
        self._scrolls = 0
        if is_miniwob(task):
            self._solver = solver(task.data["miniwob"])
            self._steps: list[str] = []
        else:
            self._solver = None
            self._steps = list(task.data["reference"])
        self._index = 0

    def __call__(self, observation: str) -> str:
        if self._solver is not None:
            return self._solver(observation)
        if self._index >= len(self._steps):
            raise LookupError(f"the reference solution of {self.task.id!r} has no step left")
        step = self._steps[self._index]
        action = resolve(step, observation)
        if action is None:
            if self._scrolls < self.max_scrolls:
                self._scrolls += 1
                return "scroll(down)"
            raise LookupError(f"reference step {step!r} of {self.task.id!r}: no such element in the observation:\n"
                              f"{observation[-3000:]}")
        self._index += 1
        self._scrolls = 0
        return action
