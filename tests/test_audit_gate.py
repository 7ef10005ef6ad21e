"""The self-evolving curriculum's audit gate: a written task that an attack passes is never drawn, and the audit's
verdict stays with the proposal (in ``written()``, the saved proposals and the curriculum's state)."""

from __future__ import annotations

import json

import pytest

from selfgym.curricula import SelfEvolvingCurriculum
from selfgym.curricula.base import FixedFamily
from selfgym.curricula.writers import LLMTaskWriter
from selfgym.envs.audit import TaskAuditor
from selfgym.envs.audit.shell import ShellBattery
from selfgym.envs.shell import shipped_tasks
from selfgym.envs.shell_env import ShellEnv

# What a task-writing model replied: a task whose check a null agent passes (nothing written is not "failed"),
# and a good one. Both pass the shell task format's lints: only the audit tells them apart.
REPLY = json.dumps([
    {"prompt": "Write the word done to /work/status.txt.", "setup": "",
     "check": '[ "$(cat status.txt 2>/dev/null)" != failed ]', "solution": ["echo done > status.txt", "submit"]},
    {"prompt": "Write the word ready to /work/ready.txt.", "setup": "",
     "check": '[ "$(cat ready.txt)" = ready ]', "solution": ["echo ready > ready.txt", "submit"]},
])


class ScriptedModel:
    """A policy that always replies :data:`REPLY` (the writer parses and validates it as it would a model's)."""

    def act(self, messages, **kwargs) -> str:
        return REPLY


@pytest.mark.docker
@pytest.mark.slow
def test_a_written_task_that_fails_the_audit_is_never_drawn(pool, tmp_path):
    seed_task = shipped_tasks().get("shell/text-001")
    auditor = TaskAuditor(lambda: ShellEnv(pool=pool, max_steps=10), batteries=[ShellBattery()])
    curriculum = SelfEvolvingCurriculum([FixedFamily("shell", [seed_task])], seed=0, critic=lambda task: 0.5,
                                        writers=[LLMTaskWriter(ScriptedModel(), "shell")], phase_length=1,
                                        per_failure=2, audit=auditor)
    try:
        curriculum.update(seed_task, 0.0)  # a failure ends the phase: two tasks are written, and audited
    finally:
        curriculum.close()
    rows = {row["task"]: row for row in curriculum.written()}
    assert curriculum.stats["added"] == 1 and curriculum.stats["rejected_audit"] == 1, (curriculum.stats, rows)
    bad = next(p for p in curriculum.proposals if p.decision == "rejected_audit")
    good = next(p for p in curriculum.proposals if p.decision == "added")
    assert "status.txt" in bad.task.prompt and "ready.txt" in good.task.prompt
    assert bad.audit["verdict"] == "hackable" and good.audit["verdict"] == "ok"
    assert "null-agent" in rows[bad.task.id]["exploits"] and rows[bad.task.id]["reason"].startswith("hackable: ")
    assert rows[good.task.id]["audit"] == "ok" and rows[good.task.id]["written_from"] == seed_task.id
    assert bad.task not in curriculum.pool and good.task in curriculum.pool
    drawn = {curriculum.next_task().id for _ in range(300)}
    assert bad.task.id not in drawn and good.task.id in drawn
    assert curriculum.written_summary()["audit_exploits"]["null-agent"] == 1

    # the verdicts survive a resume and are saved with the proposals
    state = json.loads(json.dumps(curriculum.state_dict()))
    resumed = SelfEvolvingCurriculum([FixedFamily("shell", [seed_task])], seed=0)
    resumed.load_state_dict(state)
    assert resumed.written() == curriculum.written() and bad.task not in resumed.pool
    curriculum.save_proposals(str(tmp_path / "proposals.jsonl"))
    saved = [json.loads(line) for line in (tmp_path / "proposals.jsonl").read_text().splitlines()]
    assert {row["decision"]: row["audit"]["verdict"] for row in saved} == {"rejected_audit": "hackable",
                                                                           "added": "ok"}


def test_an_audit_spec_from_a_yaml_file_and_a_task_no_battery_covers():
    """``params: {audit: ...}`` in an experiment file: an env id or {env, env_kwargs, seed}; a written task that no
    battery can attack is broken (nothing vouches for it), so the gate keeps it out."""
    import gymnasium as gym

    from selfgym.envs import Task

    assert isinstance(TaskAuditor.from_spec("selfgym/Shell-v0"), TaskAuditor)
    spec = TaskAuditor.from_spec({"env": "selfgym/Shell-v0", "env_kwargs": {"max_steps": 5}, "seed": 2})
    assert isinstance(spec, TaskAuditor) and spec.seed == 2
    with pytest.raises(ValueError, match="an audit spec is an env id or"):
        SelfEvolvingCurriculum([FixedFamily("shell", [shipped_tasks().get("shell/text-001")])],
                               audit={"env": "selfgym/Shell-v0", "workers": 2})
    auditor = TaskAuditor(lambda: gym.make("selfgym/Math-v0"), batteries=[ShellBattery()])
    audit = auditor(Task("sum", "custom", "What is 2 + 2?", 0, {"answer": "4"}))
    auditor.close()
    assert audit.verdict == "broken" and [f.exploit for f in audit.findings] == ["no-battery"]
