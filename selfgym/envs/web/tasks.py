"""Web tasks on the self-hosted sites: their specification, YAML task files, and the shipped task set.

A task file is a YAML list of entries::

    - id: web/shop-010
      difficulty: 1                  # 0 (one or two clicks) .. 3 (a long form, several pages)
      category: state                # navigation, information or state
      sites: [shop]                  # the sites the task may visit; goto is limited to them
      start: /                       # where the episode starts (a path on the first site)
      prompt: Add two Cadence Buds to the cart.
      check:                         # see selfgym.envs.web.checks: answer, url and/or sql
        sql:
          - {db: shop, query: "SELECT quantity FROM cart_items WHERE product_id = 12", expect: [[3]]}
      reference:                     # a scripted solution; elements by role and name, resolved at play time
        - click(link "Cadence Buds")
        - type(spinbutton "Quantity", "2")
        - click(button "Add to cart")
        - answer("done")

Everything but ``id``, ``prompt`` and ``difficulty`` goes in ``Task.data``, so curricula can write new tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..sources import TaskList
from ..task import Task
from .actions import parse_action
from .checks import Check, validate_check, validate_sql
from .container import SITES, Site, open_database, seed_database

FAMILY = "web"


class WebTaskSpec(BaseModel):
    """What ``Task.data`` of a site task holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Literal["navigation", "information", "state"]
    sites: list[str] = Field(min_length=1)
    start: str = "/"
    check: Check
    reference: list[str] = Field(min_length=1)

    @field_validator("sites")
    @classmethod
    def _known_sites(cls, sites: list[str]) -> list[str]:
        unknown = [s for s in sites if s not in SITES or not SITES[s].has_database]
        if unknown:
            raise ValueError(f"unknown site(s) {unknown}; the sites are {[s for s in SITES if SITES[s].has_database]}")
        return sites

    @field_validator("reference")
    @classmethod
    def _ends_with_answer(cls, steps: list[str]) -> list[str]:
        if not steps[-1].lstrip().startswith("answer("):
            raise ValueError("a reference solution ends with answer(...)")
        return steps

    @property
    def site_objects(self) -> list[Site]:
        return [SITES[name] for name in self.sites]

    @property
    def start_url(self) -> str:
        return self.start if "://" in self.start else SITES[self.sites[0]].url(self.start)


def spec_of(task: Task) -> WebTaskSpec:
    """The validated spec of a site task (a ``ValueError`` naming the task if its data is wrong, or if its check
    cannot judge it: see :func:`.checks.validate_check`)."""
    try:
        spec = WebTaskSpec.model_validate(dict(task.data))
    except ValidationError as exc:
        raise ValueError(f"web task {task.id!r} has invalid data: {exc}") from None
    try:
        answer = parse_action(spec.reference[-1]).text or ""
        validate_check(spec.check, prompt=task.prompt, reference_answer=answer)
        validate_sql(spec.check, lambda name: open_database(seed_database(name)))
    except ValueError as exc:
        raise ValueError(f"web task {task.id!r}: {exc}") from None
    return spec


def task_from_entry(entry: Mapping[str, Any], where: str = "") -> Task:
    """A :class:`Task` from one YAML entry (validated)."""
    entry = dict(entry)
    try:
        task_id, prompt = entry.pop("id"), entry.pop("prompt")
    except KeyError as exc:
        raise ValueError(f"{where}a web task needs {exc.args[0]!r}") from None
    difficulty = int(entry.pop("difficulty", 0))
    task = Task(id=str(task_id), family=FAMILY, prompt=str(prompt), difficulty=difficulty, data=entry)
    spec_of(task)
    return task


def load_task_file(path: str | Path) -> list[Task]:
    """Read a YAML task file (see the module docstring)."""
    path = Path(path)
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty YAML list of tasks")
    return [task_from_entry(entry, f"{path}, entry {number}: ") for number, entry in enumerate(entries, start=1)]


@cache
def shipped_tasks() -> TaskList:
    """The tasks shipped with selfgym for the shop, forum and wiki (``tasks/*.yaml``)."""
    folder = resources.files("selfgym.envs.web") / "tasks"
    tasks: list[Task] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as path:
                tasks += load_task_file(path)
    return TaskList(tasks, FAMILY)
