"""Every shipped shell task (Harbor directories): many, varied and complete, and the same task once exported and
read back. That its reference earns 1 and its wrong attempts and a bare ``submit`` 0 (with every other attack) is
the audit gate's (``tests/test_audit_shell.py``)."""

from __future__ import annotations

import collections
from pathlib import Path

from selfgym.envs import Task
from selfgym.envs.harbor import harbor_spec_of, read_tasks, wrong_attempts
from selfgym.envs.shell import parse_submit, shipped_tasks
from selfgym.envs.shell.export import export_tasks

SHIPPED = list(shipped_tasks())
FAMILIES = {"files", "text", "archives", "git", "processes", "data", "build", "permissions", "services"}


def test_the_shipped_tasks_are_many_varied_and_complete():
    assert len(SHIPPED) >= 120
    by_category = collections.Counter(task.data["category"] for task in SHIPPED)
    assert set(by_category) == FAMILIES, by_category
    assert all(count >= 6 for count in by_category.values()), by_category
    assert {task.difficulty for task in SHIPPED} == {0, 1, 2, 3}
    for task in SHIPPED:
        assert task.family == "shell" and task.id.startswith("shell/")
        spec = harbor_spec_of(task)
        assert spec.environment == "sandbox" and spec.network == "no-network", task.id
        answer = parse_submit(task.data["solution"][-1])  # `submit <answer>` for tasks with a fixed answer
        assert answer == "" or spec.answer_file is not None, task.id
        assert wrong_attempts(spec.dir), f"{task.id} has no wrong attempt"
        assert Task.from_json(task.to_json()) == task  # JSON: curricula can store and replay it


def folder(path: str) -> dict[str, bytes]:
    root = Path(path)
    return {str(file.relative_to(root)): file.read_bytes() for file in sorted(root.rglob("*")) if file.is_file()}


def test_every_shipped_task_survives_export_and_import(tmp_path):
    # playing every task's reference, wrong attempts and a bare submit is the audit gate's job
    # (test_audit_shell.py::test_no_shipped_task_is_hackable_or_broken): here, what a copy must keep
    export_tasks(SHIPPED, tmp_path)
    imported = read_tasks(tmp_path)
    assert [task.id for task in imported] == [task.id for task in SHIPPED]
    for shipped, back in zip(SHIPPED, imported):
        assert (shipped.prompt, shipped.difficulty, shipped.family) == (back.prompt, back.difficulty, back.family)
        ours, theirs = dict(shipped.data), dict(back.data)
        ours_harbor, theirs_harbor = ours.pop("harbor"), theirs.pop("harbor")
        assert ours == theirs, shipped.id
        where = {key: None for key in ours_harbor if key == "dir" or key.endswith("_dir")}  # folders differ
        assert dict(ours_harbor, **where) == dict(theirs_harbor, **where), shipped.id
        assert folder(ours_harbor["dir"]) == folder(theirs_harbor["dir"]), shipped.id
